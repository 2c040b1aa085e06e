/* Test-only stand-in for Windows' bcryptprimitives.dll under Wine 8.0 (Debian 12).
 *
 * Rust's standard library draws randomness from ProcessPrng in bcryptprimitives.dll,
 * which every Windows 10 and 11 has but Wine gained only in 9.x. `cargo xtask
 * test-windows` builds this with MinGW next to sockscope.exe so the smoke test can run
 * here; it never ships. It fills the buffer from RtlGenRandom (advapi32's
 * SystemFunction036), Windows' own CSPRNG entry point that Wine does implement. */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!RtlGenRandom(data, n)) {
            return FALSE;
        }
        data += n;
        len -= n;
    }
    return TRUE;
}
