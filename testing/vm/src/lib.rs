//! The MARS VM testbed: shared pieces of the host tool (`testbed`) and the guest agent
//! (`testbed-agent`), the hostile peer (`mars-hostile`), and the crash states of
//! `mars-crashstate`.

pub mod crashstate;
pub mod hostile;
pub mod proto;
