//! What a host should be doing for a resource, decided from the symlink tree alone
//! (design reference §1.7, §5.10), so that after a reboot or module reload the module
//! resumes exactly the previous role.

/// The role a host should have for a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Not a member here, or `todo-<me>/attach` is 0: the disk is not opened.
    Detached,
    /// Attached, and this host is the designated primary: the device exists and every
    /// write is logged.
    Primary,
    /// Attached, another host (or none) is primary: the disk is kept up to date by replay.
    Secondary,
}

/// What the tree says about a resource, from this host's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceLinks<'a> {
    /// `data-<me>` exists (this host is a member and has a disk).
    pub has_data: bool,
    /// Value of `todo-<me>/attach` is 1.
    pub attach: bool,
    /// Value of `primary` (`None` for `(none)` or missing).
    pub primary: Option<&'a str>,
}

/// The role `me` should have.
pub fn desired_role(links: &ResourceLinks<'_>, me: &str) -> Role {
    if !links.has_data || !links.attach {
        Role::Detached
    } else if links.primary == Some(me) {
        Role::Primary
    } else {
        Role::Secondary
    }
}

/// Interprets a `todo-*` switch value: "1" is on; anything else, or missing, is off.
pub fn switch_on(value: Option<&[u8]>) -> bool {
    matches!(value, Some(v) if v.trim_ascii() == b"1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles() {
        let mut l = ResourceLinks { has_data: true, attach: true, primary: Some("node1") };
        assert_eq!(desired_role(&l, "node1"), Role::Primary);
        assert_eq!(desired_role(&l, "node2"), Role::Secondary);
        l.primary = None;
        assert_eq!(desired_role(&l, "node1"), Role::Secondary);
        l.attach = false;
        assert_eq!(desired_role(&l, "node1"), Role::Detached);
        let l = ResourceLinks { has_data: false, attach: true, primary: Some("node1") };
        assert_eq!(desired_role(&l, "node1"), Role::Detached);
    }

    #[test]
    fn switches() {
        assert!(switch_on(Some(b"1")));
        assert!(switch_on(Some(b"1\n")));
        assert!(!switch_on(Some(b"0")));
        assert!(!switch_on(Some(b"")));
        assert!(!switch_on(Some(b"yes")));
        assert!(!switch_on(None));
    }
}
