//! Gateway profiles: the event handlers that make the embedded gateway behave like a
//! particular real gateway. Each profile registers its namespaces on a `SocketIo`.

pub mod generic;
