//! The MARS VM testbed: shared pieces of the host tool (`testbed`) and the guest agent
//! (`testbed-agent`).

pub mod proto;
