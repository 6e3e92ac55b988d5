//! Fork safety, through the C ABI from another language (Python's ctypes): after `fork`, the
//! child sees the module as not initialised (PKCS#11 v2.40 §6.7.7: a child must call
//! `C_Initialize`), initialises its own state, and the parent's state is untouched.
//!
//! Needs `python3`; without it the test prints `SKIPPED`, except under `CI=true`.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs, reason = "test code")]

use std::path::PathBuf;
use std::process::Command;

const SCRIPT: &str = r#"
import ctypes, os, sys
lib = ctypes.CDLL(sys.argv[1])
lib.C_Initialize.argtypes = [ctypes.c_void_p]
lib.C_Finalize.argtypes = [ctypes.c_void_p]
lib.C_GetSlotList.argtypes = [ctypes.c_ubyte, ctypes.c_void_p, ctypes.POINTER(ctypes.c_ulong)]
for f in (lib.C_Initialize, lib.C_Finalize, lib.C_GetSlotList):
    f.restype = ctypes.c_ulong
NOT_INITIALIZED = 0x190
assert lib.C_Initialize(None) == 0
pid = os.fork()
if pid == 0:
    n = ctypes.c_ulong(0)
    rvs = [lib.C_GetSlotList(0, None, ctypes.byref(n)), lib.C_Initialize(None),
           lib.C_GetSlotList(0, None, ctypes.byref(n)), lib.C_Finalize(None)]
    print("child", [hex(r) for r in rvs], flush=True)
    os._exit(0 if rvs == [NOT_INITIALIZED, 0, 0, 0] else 1)
_, status = os.waitpid(pid, 0)
n = ctypes.c_ulong(0)
parent = [lib.C_GetSlotList(0, None, ctypes.byref(n)), lib.C_Finalize(None)]
print("parent", [hex(r) for r in parent], flush=True)
sys.exit(os.waitstatus_to_exitcode(status) or (0 if parent == [0, 0] else 2))
"#;

fn module() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let built = deps.join("libcps_pkcs11.so");
    if built.exists() {
        built
    } else {
        deps.parent().unwrap().join("libcps_pkcs11.so")
    }
}

#[test]
fn a_forked_child_starts_uninitialised() {
    let m = module();
    assert!(m.exists(), "{} was not built", m.display());
    let out = match Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(&m)
        .output()
    {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return cps_transport::pcsc::testing::skip_or_fail("python3 is not installed");
        }
        Err(e) => panic!("python3: {e}"),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("child ['0x190', '0x0', '0x0', '0x0']"),
        "{text}"
    );
}
