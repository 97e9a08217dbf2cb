//! Runs the real marsadm binary: exit statuses and messages scripts rely on.

use std::path::PathBuf;
use std::process::{Command, Output};

use mars_core::log_record::{encode_record, ChecksumAlgorithm, Format, RecordHeader, RecordKind, SoftwareDigests, HEADER_LEN};

fn marsadm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_marsadm")).args(args).output().expect("run marsadm")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn temp_log(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("marsadm-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn three_records() -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut len = 0;
    for seq in 1..=3u64 {
        let h = RecordHeader {
            seq,
            stamp_ns: 1_000_000_000 * seq,
            pos: 8192 * seq,
            data_len: 1024,
            kind: RecordKind::Write,
            checksum: ChecksumAlgorithm::Crc32c,
            format: Format::Packed,
        };
        let mut rec = vec![0u8; h.record_len()];
        encode_record(&h, &[0xab; 1024], &SoftwareDigests, &mut rec).unwrap();
        len = rec.len();
        out.extend(rec);
    }
    (out, len)
}

#[test]
fn version_and_help() {
    let out = marsadm(&["--version"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout).trim(), format!("marsadm {}", mars_core::version::VERSION));
    let out = marsadm(&["--help"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("Exit status"));
}

/// `marsadm help COMMAND` (and `COMMAND --help`) teach: preconditions, refusals, example.
#[test]
fn help_command_teaches() {
    for args in [&["help", "primary"][..], &["primary", "--help"], &["help", "view-get-primary"]] {
        let out = marsadm(args);
        assert!(out.status.success(), "{args:?}");
        let help = text(&out.stdout);
        for part in ["Preconditions:", "Refusals", "Example:"] {
            assert!(help.contains(part), "{args:?}: no {part}\n{help}");
        }
    }
    // The short help stays short.
    assert!(!text(&marsadm(&["primary", "-h"]).stdout).contains("Example:"));
}

#[test]
fn unknown_command_exits_2_with_a_message() {
    let out = marsadm(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unrecognized subcommand 'frobnicate'"));
}

#[test]
fn cat_clean_log() {
    let (log, _) = three_records();
    let p = temp_log("clean", &log);
    let out = marsadm(&["cat", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("3 records, 3072 bytes of data"), "{stdout}");
    assert!(stdout.contains("clean"));
    assert_eq!(stdout.lines().filter(|l| l.contains(" write ")).count(), 3);
}

#[test]
fn cat_reports_the_first_bad_record() {
    let (mut log, rec_len) = three_records();
    log[2 * rec_len + HEADER_LEN + 3] ^= 1;
    let p = temp_log("bad", &log);
    let out = marsadm(&["cat", "--summary", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("at offset {} (record 3): payload checksum mismatch", 2 * rec_len)), "{stdout}");
    assert!(text(&out.stderr).contains("damaged or out-of-sequence record"));
}

#[test]
fn cat_incomplete_tail_exits_3() {
    let (log, _) = three_records();
    let p = temp_log("cut", &log[..log.len() - 1]);
    let out = marsadm(&["cat", "--json", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["summary"]["status"], "incomplete");
    assert_eq!(v["summary"]["records"], 2);
    assert_eq!(v["records"].as_array().unwrap().len(), 2);
}

#[test]
fn cat_missing_file_is_a_clear_error() {
    let out = marsadm(&["cat", "/nonexistent/log-000000001-x"]);
    assert_eq!(out.status.code(), Some(5), "exit status: not found");
    assert!(text(&out.stderr).contains("cannot read /nonexistent/log-000000001-x"));
}

#[test]
fn a_failure_under_json_is_json_too() {
    let out = marsadm(&["cat", "--json", "/nonexistent/log-000000001-x"]);
    assert_eq!(out.status.code(), Some(5));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["error"]["exit_status"], 5);
    assert!(v["error"]["message"].as_str().unwrap().contains("cannot read /nonexistent/log-000000001-x"), "{v}");
    assert!(text(&out.stderr).contains("cannot read /nonexistent/log-000000001-x"));
    // Without --json: nothing on stdout.
    assert!(marsadm(&["cat", "/nonexistent/log-000000001-x"]).stdout.is_empty());
}

#[test]
fn role_state_and_split_brain_commands_teach_and_need_a_resource() {
    for (cmd, words) in [
        ("role", &["ForcedPrimary", "RemainsPrimary", "NotYetPrimary"][..]),
        ("state", &["PrimaryUnreachable", "Outdated"][..]),
        ("view-is-split-brain", &["version links", "invalidat"][..]),
        ("view-role", &["role"][..]),
        ("view-actual-primary", &["is-primary", "(none)"][..]),
    ] {
        let out = marsadm(&[cmd, "--help"]);
        assert!(out.status.success(), "{cmd}");
        let help = text(&out.stdout);
        for w in words {
            assert!(help.contains(w), "{cmd} --help lacks {w:?}: {help}");
        }
        assert_eq!(marsadm(&[cmd]).status.code(), Some(2), "{cmd} without a resource");
    }
}
