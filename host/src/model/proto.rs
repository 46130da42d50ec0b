//! Per-protocol connection state machines and state timeouts (§7.2), transcribed from
//! `ip_vs_proto_tcp.c: tcp_states[], tcp_timeouts[], tcp_state_active_table[]`,
//! `ip_vs_proto_sctp.c: sctp_states[], sctp_timeouts[]` and `ip_vs_proto_udp.c`.

use std::time::Duration;

use super::types::{Proto, SctpChunk, TcpFlags};

/// Direction of a packet for the state tables (`IP_VS_DIR_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateDir {
    Input,
    Output,
    /// Input on an entry that has never seen output (DR/TUN: `IP_VS_CONN_F_NOOUTPUT`).
    InputOnly,
}

// TCP states, in the kernel's numbering (`IP_VS_TCP_S_*`).
pub const TCP_NONE: u8 = 0;
pub const TCP_ESTABLISHED: u8 = 1;
pub const TCP_SYN_SENT: u8 = 2;
pub const TCP_SYN_RECV: u8 = 3;
pub const TCP_FIN_WAIT: u8 = 4;
pub const TCP_TIME_WAIT: u8 = 5;
pub const TCP_CLOSE: u8 = 6;
pub const TCP_CLOSE_WAIT: u8 = 7;
pub const TCP_LAST_ACK: u8 = 8;
pub const TCP_LISTEN: u8 = 9;
pub const TCP_SYNACK: u8 = 10;

pub const TCP_STATE_NAMES: [&str; 11] = [
    "NONE",
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "SYNACK",
];

const ES: u8 = TCP_ESTABLISHED;
const SS: u8 = TCP_SYN_SENT;
const SR: u8 = TCP_SYN_RECV;
const FW: u8 = TCP_FIN_WAIT;
const TW: u8 = TCP_TIME_WAIT;
const CL: u8 = TCP_CLOSE;
const CW: u8 = TCP_CLOSE_WAIT;
const LA: u8 = TCP_LAST_ACK;
const LI: u8 = TCP_LISTEN;

/// `tcp_states[]` (not the secure_tcp table): [dir][event syn/fin/ack/rst][state].
#[rustfmt::skip]
static TCP_STATES: [[[u8; 11]; 4]; 3] = [
    // INPUT
    [
        /*syn*/ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
        /*fin*/ [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW],
        /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR],
    ],
    // OUTPUT
    [
        /*syn*/ [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR],
        /*fin*/ [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
        /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
        /*rst*/ [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
    ],
    // INPUT-ONLY
    [
        /*syn*/ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
        /*fin*/ [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
        /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    ],
];

/// `tcp_states_dos[]`: the stricter table `tcp_timeout_change()` installs while the
/// `secure_tcp` defence is on ([`super::sysctl::Sysctls::secure_tcp_on`]). A client ACK does
/// not complete a NAT handshake whose SYN-ACK was not seen (SYN_RECV stays), a DR/TUN SYN
/// opens in SYNACK (120 s) instead of SYN_RECV (60 s).
#[rustfmt::skip]
static TCP_STATES_DOS: [[[u8; 11]; 4]; 3] = {
    const SA: u8 = TCP_SYNACK;
    [
        // INPUT
        [
            /*syn*/ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SA],
            /*fin*/ [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, SA],
            /*ack*/ [ES, ES, SS, SR, FW, TW, CL, CW, CL, LI, SA],
            /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
        ],
        // OUTPUT
        [
            /*syn*/ [SS, ES, SS, SA, SS, SS, SS, SS, SS, LI, SA],
            /*fin*/ [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
            /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
            /*rst*/ [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
        ],
        // INPUT-ONLY
        [
            /*syn*/ [SA, ES, ES, SR, SA, SA, SA, SA, SA, SA, SA],
            /*fin*/ [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
            /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
            /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
        ],
    ]
};

/// `tcp_state_active_table[]`: states counted in `activeconns`.
pub fn tcp_state_active(state: u8) -> bool {
    matches!(
        state,
        TCP_ESTABLISHED | TCP_SYN_SENT | TCP_SYN_RECV | TCP_SYNACK
    )
}

fn dir_index(dir: StateDir) -> usize {
    match dir {
        StateDir::Input => 0,
        StateDir::Output => 1,
        StateDir::InputOnly => 2,
    }
}

/// `set_tcp_state()` with the normal table `tcp_states[]`: event priority RST, SYN, FIN, ACK;
/// a packet with none of them → CLOSE.
pub fn tcp_next_state(dir: StateDir, state: u8, flags: TcpFlags) -> u8 {
    tcp_next_state_in(false, dir, state, flags)
}

/// `set_tcp_state()` with `pd->tcp_state_table`: `tcp_states_dos[]` when `secure` (the
/// `secure_tcp` defence is on), else `tcp_states[]`.
pub fn tcp_next_state_in(secure: bool, dir: StateDir, state: u8, flags: TcpFlags) -> u8 {
    let ev = if flags.rst {
        3
    } else if flags.syn {
        0
    } else if flags.fin {
        1
    } else if flags.ack {
        2
    } else {
        return TCP_CLOSE;
    };
    let table = if secure { &TCP_STATES_DOS } else { &TCP_STATES };
    table[dir_index(dir)][ev][state as usize]
}

// SCTP states (`IP_VS_SCTP_S_*`).
pub const SCTP_NONE: u8 = 0;
pub const SCTP_INIT1: u8 = 1;
pub const SCTP_INIT: u8 = 2;
pub const SCTP_COOKIE_SENT: u8 = 3;
pub const SCTP_COOKIE_REPLIED: u8 = 4;
pub const SCTP_COOKIE_WAIT: u8 = 5;
pub const SCTP_COOKIE: u8 = 6;
pub const SCTP_COOKIE_ECHOED: u8 = 7;
pub const SCTP_ESTABLISHED: u8 = 8;
pub const SCTP_SHUTDOWN_SENT: u8 = 9;
pub const SCTP_SHUTDOWN_RECEIVED: u8 = 10;
pub const SCTP_SHUTDOWN_ACK_SENT: u8 = 11;
pub const SCTP_REJECTED: u8 = 12;
pub const SCTP_CLOSED: u8 = 13;

pub const SCTP_STATE_NAMES: [&str; 14] = [
    "NONE",
    "INIT1",
    "INIT",
    "C-SENT",
    "C-REPLIED",
    "C-WAIT",
    "COOKIE",
    "C-ECHOED",
    "ESTABLISHED",
    "S-SENT",
    "S-RECEIVED",
    "S-ACK-SENT",
    "REJECTED",
    "CLOSED",
];

/// `sctp_events[]`: chunk type → event row.
fn sctp_event(chunk: SctpChunk) -> usize {
    match chunk {
        SctpChunk::Init => 1,
        SctpChunk::InitAck => 2,
        SctpChunk::CookieEcho => 3,
        SctpChunk::CookieAck => 4,
        SctpChunk::Shutdown => 5,
        SctpChunk::ShutdownAck => 6,
        SctpChunk::ShutdownComplete => 7,
        SctpChunk::Error => 8,
        SctpChunk::Abort => 9,
        // DATA, SACK, HEARTBEAT(-ACK), ECNE, CWR and unknown types.
        SctpChunk::Data
        | SctpChunk::Sack
        | SctpChunk::Heartbeat
        | SctpChunk::HeartbeatAck
        | SctpChunk::Other(_) => 0,
    }
}

#[rustfmt::skip]
static SCTP_STATES: [[[u8; 14]; 10]; 3] = {
    const NO: u8 = SCTP_NONE; const I1: u8 = SCTP_INIT1; const IN: u8 = SCTP_INIT;
    const CS: u8 = SCTP_COOKIE_SENT; const CR: u8 = SCTP_COOKIE_REPLIED; const CW: u8 = SCTP_COOKIE_WAIT;
    const CO: u8 = SCTP_COOKIE; const CE: u8 = SCTP_COOKIE_ECHOED; const ES: u8 = SCTP_ESTABLISHED;
    const SS: u8 = SCTP_SHUTDOWN_SENT; const SR: u8 = SCTP_SHUTDOWN_RECEIVED; const SA: u8 = SCTP_SHUTDOWN_ACK_SENT;
    const RJ: u8 = SCTP_REJECTED; const CL: u8 = SCTP_CLOSED;
    let _ = NO;
    [
        [ // INPUT
            /* d   */ [ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
            /* i   */ [I1, IN, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, IN, IN],
            /* i_a */ [CW, CW, CW, CS, CR, CO, CO, CE, ES, SS, SR, SA, RJ, CL],
            /* c_e */ [CR, IN, IN, CR, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
            /* c_a */ [ES, I1, IN, CS, CR, CW, CO, ES, ES, SS, SR, SA, RJ, CL],
            /* s   */ [SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL],
            /* s_a */ [CL, IN, IN, CS, CR, CW, CO, CE, ES, CL, SR, CL, RJ, CL],
            /* s_c */ [CL, CL, CL, CS, CR, CW, CO, CE, ES, SS, SR, CL, RJ, CL],
            /* err */ [CL, I1, IN, CS, CR, CW, CO, CL, ES, SS, SR, SA, RJ, CL],
            /* ab  */ [CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL],
        ],
        [ // OUTPUT
            /* d   */ [ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
            /* i   */ [CW, CW, CW, CW, CW, CW, CW, CW, ES, CW, CW, CW, CW, CW],
            /* i_a */ [CS, CS, CS, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
            /* c_e */ [CE, CE, CE, CE, CE, CE, CE, CE, ES, SS, SR, SA, RJ, CL],
            /* c_a */ [ES, ES, ES, ES, ES, ES, ES, ES, ES, SS, SR, SA, RJ, CL],
            /* s   */ [SS, SS, SS, SS, SS, SS, SS, SS, SS, SS, SR, SA, RJ, CL],
            /* s_a */ [SA, SA, SA, SA, SA, CW, CO, CE, ES, SA, SA, SA, RJ, CL],
            /* s_c */ [CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
            /* err */ [CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
            /* ab  */ [CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL],
        ],
        [ // INPUT-ONLY
            /* d   */ [ES, I1, IN, CS, CR, ES, CO, CE, ES, SS, SR, SA, RJ, CL],
            /* i   */ [I1, IN, IN, IN, IN, IN, CO, CE, ES, SS, SR, SA, IN, IN],
            /* i_a */ [CE, CE, CE, CE, CE, CE, CO, CE, ES, SS, SR, SA, RJ, CL],
            /* c_e */ [ES, ES, ES, ES, ES, ES, CO, CE, ES, SS, SR, SA, RJ, CL],
            /* c_a */ [ES, I1, IN, ES, ES, CW, ES, ES, ES, SS, SR, SA, RJ, CL],
            /* s   */ [SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL],
            /* s_a */ [CL, IN, IN, CS, CR, CW, CO, CE, CL, CL, SR, CL, RJ, CL],
            /* s_c */ [CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, CL, CL, RJ, CL],
            /* err */ [CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
            /* ab  */ [CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL],
        ],
    ]
};

/// `set_sctp_state()` for the packet's first chunk.
pub fn sctp_next_state(dir: StateDir, state: u8, chunk: SctpChunk) -> u8 {
    SCTP_STATES[dir_index(dir)][sctp_event(chunk)][state as usize]
}

/// `sctp_timeouts[]` in seconds.
fn sctp_timeout_secs(state: u8) -> u64 {
    match state {
        SCTP_NONE => 2,
        SCTP_INIT1 | SCTP_REJECTED => 4,
        SCTP_ESTABLISHED => 900,
        _ => 61,
    }
}

/// The per-netns timeout tables; `--set tcp tcpfin udp` edits three of the values (§7.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    tcp: [u64; 11],
    udp: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            // tcp_timeouts[], seconds: NONE ES SS SR FW TW CL CW LA LI SA
            tcp: [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120],
            udp: 300,
        }
    }
}

impl Timeouts {
    /// `ip_vs_set_timeout()`: TCP ESTABLISHED, TCP FIN_WAIT, UDP; 0 keeps the current value.
    pub fn set(&mut self, tcp: u32, tcpfin: u32, udp: u32) {
        if tcp != 0 {
            self.tcp[TCP_ESTABLISHED as usize] = tcp as u64;
        }
        if tcpfin != 0 {
            self.tcp[TCP_FIN_WAIT as usize] = tcpfin as u64;
        }
        if udp != 0 {
            self.udp = udp as u64;
        }
    }
    /// `(tcp, tcpfin, udp)` as `ipvsadm --timeout` lists them.
    pub fn listed(&self) -> (u64, u64, u64) {
        (
            self.tcp[TCP_ESTABLISHED as usize],
            self.tcp[TCP_FIN_WAIT as usize],
            self.udp,
        )
    }
    /// Timeout of `state` for `proto`.
    pub fn of(&self, proto: Proto, state: u8) -> Duration {
        let s = match proto {
            Proto::Tcp => self.tcp.get(state as usize).copied().unwrap_or(2),
            Proto::Udp => self.udp,
            Proto::Sctp => sctp_timeout_secs(state),
        };
        Duration::from_secs(s)
    }
}

/// Human-readable state name (`ipvsadm -Lnc`).
pub fn state_name(proto: Proto, state: u8) -> &'static str {
    match proto {
        Proto::Tcp => TCP_STATE_NAMES
            .get(state as usize)
            .copied()
            .unwrap_or("ERR!"),
        Proto::Udp => "UDP",
        Proto::Sctp => SCTP_STATE_NAMES
            .get(state as usize)
            .copied()
            .unwrap_or("ERR!"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> TcpFlags {
        TcpFlags::from_letters(s).unwrap()
    }

    /// §7.2: first SYN NONE→SYN_RECV; DR/TUN ACK →ESTABLISHED; client FIN: NAT →CLOSE_WAIT,
    /// DR/TUN →FIN_WAIT; RST →CLOSE.
    #[test]
    fn tcp_examples_from_spec_7_2() {
        assert_eq!(
            tcp_next_state(StateDir::Input, TCP_NONE, f("S")),
            TCP_SYN_RECV
        );
        assert_eq!(
            tcp_next_state(StateDir::InputOnly, TCP_SYN_RECV, f("A")),
            TCP_ESTABLISHED
        );
        assert_eq!(
            tcp_next_state(StateDir::Input, TCP_ESTABLISHED, f("FA")),
            TCP_CLOSE_WAIT
        );
        assert_eq!(
            tcp_next_state(StateDir::InputOnly, TCP_ESTABLISHED, f("FA")),
            TCP_FIN_WAIT
        );
        assert_eq!(
            tcp_next_state(StateDir::Input, TCP_ESTABLISHED, f("R")),
            TCP_CLOSE
        );
        // RST has priority over SYN.
        assert_eq!(
            tcp_next_state(StateDir::Input, TCP_NONE, f("SR")),
            TCP_CLOSE
        );
        // No flags at all: CLOSE.
        assert_eq!(
            tcp_next_state(StateDir::Input, TCP_ESTABLISHED, f("")),
            TCP_CLOSE
        );
        // §10.2 sloppy: first ACK NONE → ESTABLISHED.
        assert_eq!(
            tcp_next_state(StateDir::Input, TCP_NONE, f("A")),
            TCP_ESTABLISHED
        );
    }

    /// `tcp_states_dos[]` (secure_tcp) differs from `tcp_states[]` exactly where the kernel's
    /// tables do: SYNACK instead of SYN_RECV for INPUT_ONLY SYNs and OUTPUT SYNs in SYN_RECV or
    /// SYNACK, an INPUT ACK/FIN/SYN keeps SYNACK, an INPUT ACK keeps SYN_RECV, INPUT RST in
    /// SYNACK → CLOSE.
    #[test]
    fn tcp_dos_table_differences() {
        use StateDir::*;
        let mut diffs = vec![];
        for dir in [Input, Output, InputOnly] {
            for ev in ["S", "F", "A", "R"] {
                for s in 0..11u8 {
                    let (n, d) = (
                        tcp_next_state_in(false, dir, s, f(ev)),
                        tcp_next_state_in(true, dir, s, f(ev)),
                    );
                    if n != d {
                        diffs.push((
                            dir,
                            ev,
                            TCP_STATE_NAMES[s as usize],
                            TCP_STATE_NAMES[d as usize],
                        ));
                    }
                }
            }
        }
        let sa = "SYNACK";
        assert_eq!(
            diffs,
            vec![
                (Input, "S", "SYNACK", sa),
                (Input, "F", "SYNACK", sa),
                (Input, "A", "SYN_RECV", "SYN_RECV"),
                (Input, "A", "SYNACK", sa),
                (Input, "R", "SYNACK", "CLOSE"),
                (Output, "S", "SYN_RECV", sa),
                (Output, "S", "SYNACK", sa),
                (InputOnly, "S", "NONE", sa),
                (InputOnly, "S", "FIN_WAIT", sa),
                (InputOnly, "S", "TIME_WAIT", sa),
                (InputOnly, "S", "CLOSE", sa),
                (InputOnly, "S", "CLOSE_WAIT", sa),
                (InputOnly, "S", "LAST_ACK", sa),
                (InputOnly, "S", "LISTEN", sa),
                (InputOnly, "S", "SYNACK", sa),
            ]
        );
    }

    #[test]
    fn tcp_active_states_7_4() {
        let active: Vec<u8> = (0..11).filter(|s| tcp_state_active(*s)).collect();
        assert_eq!(
            active,
            vec![TCP_ESTABLISHED, TCP_SYN_SENT, TCP_SYN_RECV, TCP_SYNACK]
        );
    }

    #[test]
    fn timeouts_defaults_and_set_7_2() {
        let mut t = Timeouts::default();
        assert_eq!(t.listed(), (900, 120, 300));
        assert_eq!(t.of(Proto::Tcp, TCP_SYN_RECV), Duration::from_secs(60));
        assert_eq!(t.of(Proto::Tcp, TCP_CLOSE), Duration::from_secs(10));
        t.set(0, 30, 0);
        assert_eq!(t.listed(), (900, 30, 300));
        t.set(7200, 0, 60);
        assert_eq!(t.listed(), (7200, 30, 60));
        assert_eq!(
            t.of(Proto::Sctp, SCTP_ESTABLISHED),
            Duration::from_secs(900)
        );
        assert_eq!(t.of(Proto::Sctp, SCTP_INIT1), Duration::from_secs(4));
        assert_eq!(t.of(Proto::Sctp, SCTP_COOKIE_WAIT), Duration::from_secs(61));
    }

    #[test]
    fn sctp_handshake_input_only() {
        // DR: client INIT, COOKIE_ECHO, DATA.
        let s = sctp_next_state(StateDir::InputOnly, SCTP_NONE, SctpChunk::Init);
        assert_eq!(s, SCTP_INIT1);
        let s = sctp_next_state(StateDir::InputOnly, s, SctpChunk::CookieEcho);
        assert_eq!(s, SCTP_ESTABLISHED);
        let s = sctp_next_state(StateDir::InputOnly, s, SctpChunk::Abort);
        assert_eq!(s, SCTP_CLOSED);
    }
}
