//! Stamps the git revision into the binary for `sockscope --version`.

#[path = "../../build-support/git_rev.rs"]
mod git_rev;

fn main() {
    git_rev::emit();
}
