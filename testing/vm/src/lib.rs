//! The MARS VM testbed: shared pieces of the host tool (`testbed`) and the guest agent
//! (`testbed-agent`), and the hostile peer (`mars-hostile`).

pub mod hostile;
pub mod proto;
