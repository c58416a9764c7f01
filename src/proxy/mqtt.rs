//! MQTT 3.1.1 and 5.0 for the proxy: `codec` frames packets and reads or writes the few the
//! proxy looks into (CONNECT, PUBLISH, the acknowledgements it sends itself); every other
//! packet is forwarded as its original bytes.

pub mod codec;
#[cfg(feature = "server")]
pub mod session;
