//! The PIN asked by the module itself (protected authentication path): a client of GnuPG's
//! pinentry programs (`pinentry-curses`, `pinentry-gnome3`, `pinentry-qt`...), which speak the
//! Assuan protocol on their standard input and output.
//!
//! One conversation per PIN: the greeting (`OK`), then `OPTION ttyname` / `ttytype` when
//! `GPG_TTY` is set (what GnuPG tells terminal pinentries), `SETTITLE`, `SETDESC`,
//! `SETPROMPT`, `SETTIMEOUT`, each answered `OK`; `GETPIN` is answered by the PIN in one or
//! more `D` lines (percent-encoded) and `OK`, or by `ERR <code>` (cancel: `GPG_ERR_CANCELED`);
//! then `BYE`. Lines are bounded (Assuan: 1000 bytes), the whole conversation has a time
//! limit (the program is killed after it), every buffer that saw the PIN is wiped, and no
//! error carries a line of the program's output (it could hold the PIN).
#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::io::Read;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

/// Longest line accepted from the program, without its line feed (Assuan limits a line to
/// 1000 bytes).
pub const MAX_LINE: usize = 1000;
/// Longest PIN accepted from the program once decoded (the card's PINs are 4–8 digits; the
/// login refuses other lengths before any APDU).
pub const MAX_PIN: usize = 64;
/// Lines the program may send before answering a command (comments, status lines).
const MAX_LINES_PER_ANSWER: usize = 64;

/// `GPG_ERR_CANCELED`, `GPG_ERR_FULLY_CANCELED`: the user cancelled (libgpg-error
/// `err-codes.h`; the low 16 bits of an Assuan error code).
const GPG_ERR_CANCELED: u32 = 99;
const GPG_ERR_FULLY_CANCELED: u32 = 198;
/// `GPG_ERR_TIMEOUT`: the program's own time limit (`SETTIMEOUT`) passed.
const GPG_ERR_TIMEOUT: u32 = 62;

/// Why no PIN came from the pinentry program.
#[derive(Debug, thiserror::Error)]
pub enum PinentryError {
    /// The program could not be started.
    #[error("starting the pinentry program {program}")]
    Start {
        /// The program, as configured.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading from or writing to the program failed.
    #[error("talking to the pinentry program")]
    Io(#[source] std::io::Error),
    /// The program closed its output before answering.
    #[error("the pinentry program ended before answering")]
    Closed,
    /// No answer within the time limit (the program is killed).
    #[error("no PIN entered within {0:?}")]
    Timeout(Duration),
    /// The user cancelled.
    #[error("the PIN entry was cancelled")]
    Cancelled,
    /// The program's own time limit (`SETTIMEOUT`) passed.
    #[error("the pinentry dialog timed out")]
    DialogTimeout,
    /// The program refused a command (`ERR <code>`), e.g. no terminal or display to show
    /// the dialog on.
    #[error("the pinentry program refused {command} (Assuan error {code})")]
    Refused {
        /// The command.
        command: &'static str,
        /// The Assuan error code.
        code: u32,
    },
    /// A line outside the protocol: too long, not a known answer, bad percent-encoding, a
    /// PIN longer than [`MAX_PIN`].
    #[error("the pinentry program answered outside the Assuan protocol")]
    Protocol,
}

/// What the dialog shows.
#[derive(Debug, Clone)]
pub struct Request {
    /// Window title.
    pub title: String,
    /// The text above the entry (card label, tries left).
    pub description: String,
    /// The label of the entry.
    pub prompt: String,
}

/// Escapes a parameter for an Assuan command line: `%`, CR, LF and other control bytes as
/// `%XX`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '%' || c.is_ascii_control() {
            out.push_str(&format!("%{:02X}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Appends the percent-decoded `data` of a `D` line to `out`, refusing more than `max`
/// bytes in all (the buffer never grows beyond its capacity: no copy of the PIN is left in
/// a freed allocation).
pub fn decode_into(
    data: &[u8],
    out: &mut Zeroizing<Vec<u8>>,
    max: usize,
) -> Result<(), PinentryError> {
    let mut i = 0;
    while let Some(&b) = data.get(i) {
        let byte = if b == b'%' {
            let hex = data.get(i + 1..i + 3).ok_or(PinentryError::Protocol)?;
            let hi = hex_value(*hex.first().ok_or(PinentryError::Protocol)?)?;
            let lo = hex_value(*hex.get(1).ok_or(PinentryError::Protocol)?)?;
            i += 3;
            (hi << 4) | lo
        } else {
            i += 1;
            b
        };
        if out.len() >= max || out.len() >= out.capacity() {
            return Err(PinentryError::Protocol);
        }
        out.push(byte);
    }
    Ok(())
}

fn hex_value(b: u8) -> Result<u8, PinentryError> {
    match b {
        b'0'..=b'9' => Ok(b - b'0'),
        b'a'..=b'f' => Ok(b - b'a' + 10),
        b'A'..=b'F' => Ok(b - b'A' + 10),
        _ => Err(PinentryError::Protocol),
    }
}

/// One line of the program's answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer<'a> {
    /// `OK [...]`.
    Ok,
    /// `ERR <code> [...]` (code 0 when it cannot be read).
    Err(u32),
    /// `D <data>` (still percent-encoded).
    Data(&'a [u8]),
    /// A comment (`#`) or status line (`S`): ignored.
    Ignored,
    /// Anything else (`INQUIRE`, garbage).
    Other,
}

/// Reads one line of the program's output (without its line feed).
pub fn parse_answer(line: &[u8]) -> Answer<'_> {
    let word_is = |w: &[u8]| {
        line.strip_prefix(w)
            .is_some_and(|rest| rest.is_empty() || rest.first() == Some(&b' '))
    };
    if word_is(b"OK") {
        Answer::Ok
    } else if word_is(b"ERR") {
        let code = line
            .get(4..)
            .unwrap_or_default()
            .split(|&b| b == b' ')
            .next()
            .and_then(|c| std::str::from_utf8(c).ok())
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        Answer::Err(code)
    } else if let Some(data) = line.strip_prefix(b"D ") {
        Answer::Data(data)
    } else if line.first() == Some(&b'#') || word_is(b"S") {
        Answer::Ignored
    } else {
        Answer::Other
    }
}

/// A line read from the program (wiped when dropped), or why none.
type Line = Result<Zeroizing<Vec<u8>>, PinentryError>;

/// Reads the program's output into bounded lines, sent to `tx`, until it ends or a line is
/// too long.
fn read_lines(mut out: ChildStdout, tx: Sender<Line>) {
    let mut buf = Zeroizing::new([0u8; 256]);
    let mut line = Zeroizing::new(Vec::with_capacity(MAX_LINE));
    loop {
        let n = match out.read(&mut buf[..]) {
            Ok(0) => {
                let _ = tx.send(Err(PinentryError::Closed));
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = tx.send(Err(PinentryError::Io(e)));
                return;
            }
        };
        for &b in buf.get(..n).unwrap_or_default() {
            if b == b'\n' {
                let full =
                    std::mem::replace(&mut line, Zeroizing::new(Vec::with_capacity(MAX_LINE)));
                if tx.send(Ok(full)).is_err() {
                    return;
                }
            } else if line.len() >= MAX_LINE {
                let _ = tx.send(Err(PinentryError::Protocol));
                return;
            } else {
                line.push(b);
            }
        }
    }
}

/// Our end of the program's input. On Linux a socket written with `MSG_NOSIGNAL`: a program
/// that ended between two lines gives `EPIPE`, not a `SIGPIPE` that would kill a host
/// application which does not ignore it (pkcs11-tool, most C programs). Elsewhere a pipe.
#[cfg(any(target_os = "linux", target_os = "android"))]
struct Input(socket2::Socket);
#[cfg(not(any(target_os = "linux", target_os = "android")))]
struct Input(std::process::ChildStdin);

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Input {
    /// Our end, and the program's standard input.
    fn pair() -> std::io::Result<(Option<Input>, Stdio)> {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        let ours = socket2::Socket::from(std::os::fd::OwnedFd::from(ours));
        Ok((
            Some(Input(ours)),
            Stdio::from(std::os::fd::OwnedFd::from(theirs)),
        ))
    }

    fn take(first: Option<Input>, _child: &mut Child) -> Option<Input> {
        first
    }

    fn write_all(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let n = self.0.send_with_flags(bytes, libc::MSG_NOSIGNAL)?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            bytes = bytes.get(n..).unwrap_or_default();
        }
        Ok(())
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
impl Input {
    fn pair() -> std::io::Result<(Option<Input>, Stdio)> {
        Ok((None, Stdio::piped()))
    }

    fn take(_first: Option<Input>, child: &mut Child) -> Option<Input> {
        child.stdin.take().map(Input)
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write as _;
        self.0.write_all(bytes)?;
        self.0.flush()
    }
}

/// A conversation with a started program.
struct Conversation {
    input: Input,
    lines: Receiver<Line>,
    deadline: Instant,
    timeout: Duration,
}

impl Conversation {
    fn next_line(&self) -> Line {
        let left = self.deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => Err(PinentryError::Timeout(self.timeout)),
            Err(RecvTimeoutError::Disconnected) => Err(PinentryError::Closed),
        }
    }

    fn send(&mut self, line: &str) -> Result<(), PinentryError> {
        self.input
            .write_all(format!("{line}\n").as_bytes())
            .map_err(PinentryError::Io)
    }

    /// Waits for `OK` (comments and status lines skipped).
    fn expect_ok(&self, command: &'static str) -> Result<(), PinentryError> {
        for _ in 0..MAX_LINES_PER_ANSWER {
            let line = self.next_line()?;
            match parse_answer(&line) {
                Answer::Ok => return Ok(()),
                Answer::Err(code) => return Err(refusal(command, code)),
                Answer::Ignored => {}
                Answer::Data(_) | Answer::Other => return Err(PinentryError::Protocol),
            }
        }
        Err(PinentryError::Protocol)
    }

    /// `GETPIN`: the decoded PIN.
    fn get_pin(&mut self) -> Result<Zeroizing<Vec<u8>>, PinentryError> {
        self.send("GETPIN")?;
        let mut pin = Zeroizing::new(Vec::with_capacity(MAX_PIN));
        for _ in 0..MAX_LINES_PER_ANSWER {
            let line = self.next_line()?;
            match parse_answer(&line) {
                Answer::Data(data) => decode_into(data, &mut pin, MAX_PIN)?,
                Answer::Ok => return Ok(pin),
                Answer::Err(code) => return Err(refusal("GETPIN", code)),
                Answer::Ignored => {}
                Answer::Other => return Err(PinentryError::Protocol),
            }
        }
        Err(PinentryError::Protocol)
    }
}

fn refusal(command: &'static str, code: u32) -> PinentryError {
    match code & 0xFFFF {
        GPG_ERR_CANCELED | GPG_ERR_FULLY_CANCELED => PinentryError::Cancelled,
        GPG_ERR_TIMEOUT => PinentryError::DialogTimeout,
        _ => PinentryError::Refused { command, code },
    }
}

/// Asks a PIN through the pinentry `program`, within `timeout` for the whole conversation.
/// The program is always ended afterwards (`BYE`, then killed if it is still there after a
/// second).
pub fn ask(
    program: &OsStr,
    request: &Request,
    timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, PinentryError> {
    let (input, stdin) = Input::pair().map_err(PinentryError::Io)?;
    let mut child = Command::new(program)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|source| PinentryError::Start {
            program: program.to_string_lossy().into_owned(),
            source,
        })?;
    let input = Input::take(input, &mut child);
    let r = converse(&mut child, input, request, timeout);
    finish(&mut child);
    r
}

fn converse(
    child: &mut Child,
    input: Option<Input>,
    request: &Request,
    timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, PinentryError> {
    let (Some(input), Some(output)) = (input, child.stdout.take()) else {
        return Err(PinentryError::Closed);
    };
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("cps-pkcs11 pinentry".into())
        .spawn(move || read_lines(output, tx))
        .map_err(PinentryError::Io)?;
    let mut c = Conversation {
        input,
        lines: rx,
        deadline: Instant::now() + timeout,
        timeout,
    };
    // Each command is written after the program answered the previous one; a program that
    // ended in between makes the write fail (EPIPE, never SIGPIPE: see `Input`).
    c.expect_ok("the greeting")?;
    if let Some(tty) = std::env::var_os("GPG_TTY").and_then(|t| t.into_string().ok()) {
        c.send(&format!("OPTION ttyname={}", escape(&tty)))?;
        c.expect_ok("OPTION ttyname")?;
        if let Some(term) = std::env::var_os("TERM").and_then(|t| t.into_string().ok()) {
            c.send(&format!("OPTION ttytype={}", escape(&term)))?;
            c.expect_ok("OPTION ttytype")?;
        }
    }
    c.send(&format!("SETTITLE {}", escape(&request.title)))?;
    c.expect_ok("SETTITLE")?;
    c.send(&format!("SETDESC {}", escape(&request.description)))?;
    c.expect_ok("SETDESC")?;
    c.send(&format!("SETPROMPT {}", escape(&request.prompt)))?;
    c.expect_ok("SETPROMPT")?;
    // The program closes its dialog a little before we stop waiting.
    let secs = timeout.as_secs().saturating_sub(5).max(1);
    c.send(&format!("SETTIMEOUT {secs}"))?;
    c.expect_ok("SETTIMEOUT")?;
    let pin = c.get_pin();
    if pin.is_ok() {
        let _ = c.send("BYE");
    }
    pin
}

/// Ends the program: its input closed (it exits after `BYE` or at end of input), then killed
/// if it is still running after a second.
fn finish(child: &mut Child) {
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read() {
        assert_eq!(parse_answer(b"OK Pleased to meet you"), Answer::Ok);
        assert_eq!(parse_answer(b"OK"), Answer::Ok);
        assert_eq!(
            parse_answer(b"ERR 83886179 Operation cancelled <Pinentry>"),
            Answer::Err(83_886_179)
        );
        assert_eq!(parse_answer(b"D 1234"), Answer::Data(b"1234"));
        assert_eq!(parse_answer(b"# comment"), Answer::Ignored);
        assert_eq!(parse_answer(b"S PASSWORD_FROM_CACHE"), Answer::Ignored);
        assert_eq!(parse_answer(b"OKAY"), Answer::Other);
        assert_eq!(parse_answer(b"INQUIRE QUALITY"), Answer::Other);
        assert_eq!(parse_answer(b"ERR"), Answer::Err(0));
        // (5 << 24) | 99: GPG_ERR_CANCELED from the pinentry source.
        assert!(matches!(
            refusal("GETPIN", 83_886_179),
            PinentryError::Cancelled
        ));
        assert!(matches!(
            refusal("GETPIN", 83_886_142),
            PinentryError::DialogTimeout
        ));
        assert!(matches!(
            refusal("GETPIN", 83_918_950),
            PinentryError::Refused { .. }
        ));
    }

    #[test]
    fn pins_are_decoded_within_bounds() {
        let mut pin = Zeroizing::new(Vec::with_capacity(MAX_PIN));
        decode_into(b"1%32%334", &mut pin, MAX_PIN).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pin.as_slice(), b"1234");
        decode_into(b"%25", &mut pin, MAX_PIN).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pin.as_slice(), b"1234%");
        for bad in [&b"%"[..], b"%3", b"%G1", b"12%"] {
            let mut pin = Zeroizing::new(Vec::with_capacity(MAX_PIN));
            assert!(matches!(
                decode_into(bad, &mut pin, MAX_PIN),
                Err(PinentryError::Protocol)
            ));
        }
        let mut pin = Zeroizing::new(Vec::with_capacity(MAX_PIN));
        assert!(decode_into(&[b'1'; MAX_PIN + 1], &mut pin, MAX_PIN).is_err());
        assert!(pin.len() <= MAX_PIN && pin.capacity() == MAX_PIN);
    }

    #[test]
    fn parameters_are_escaped() {
        assert_eq!(
            escape("PIN of \"CPS3\"\n100% sure\r"),
            "PIN of \"CPS3\"%0A100%25 sure%0D"
        );
        assert_eq!(escape("carte é"), "carte é");
    }

    proptest::proptest! {
        /// Hostile output of the program never panics and never grows the PIN buffer.
        #[test]
        fn hostile_lines_never_panic(line in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1100)) {
            let _ = parse_answer(&line);
            let mut pin = Zeroizing::new(Vec::with_capacity(MAX_PIN));
            let _ = decode_into(&line, &mut pin, MAX_PIN);
            proptest::prop_assert!(pin.len() <= MAX_PIN && pin.capacity() == MAX_PIN);
        }
    }
}
