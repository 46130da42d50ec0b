//! The few C library routines whose exact behaviour ipvsadm inherits: `strtol`-based number
//! parsing (`string_to_number()`), `atoi`, glibc `inet_aton()`, glibc `inet_ntop(AF_INET6)` and
//! glibc's merge-sort `qsort()` (which matters because libipvs' comparators are not transitive).

use std::net::{Ipv4Addr, Ipv6Addr};

/// C `isspace` in the "C" locale.
fn c_isspace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// `strtol(s, &end, 10)` requiring the whole string to be consumed, as ipvsadm's
/// `string_to_number()`/`parse_fwmark()` do: optional leading white space, optional sign, at
/// least one decimal digit, nothing after. Overflow of a 64-bit `long` (ERANGE) is `None`.
pub fn strtol_full(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && c_isspace(b[i]) {
        i += 1;
    }
    let neg = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let start = i;
    let mut v: i64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        let d = (b[i] - b'0') as i64;
        v = if neg {
            v.checked_mul(10)?.checked_sub(d)?
        } else {
            v.checked_mul(10)?.checked_add(d)?
        };
        i += 1;
    }
    if i == start || i != b.len() {
        return None;
    }
    Some(v)
}

/// ipvsadm `string_to_number(s, min, max)`: `Some(n)` when `s` is a whole decimal number in range.
pub fn string_to_number(s: &str, min: i64, max: i64) -> Option<i64> {
    strtol_full(s).filter(|n| (min..=max).contains(n))
}

/// C `atoi`: leading white space, optional sign, digits up to the first non-digit; 0 if none.
/// (Overflow is undefined in C; here it saturates.)
pub fn atoi(s: &str) -> i64 {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && c_isspace(b[i]) {
        i += 1;
    }
    let neg = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut v: i64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        v = v.saturating_mul(10).saturating_add((b[i] - b'0') as i64);
        i += 1;
    }
    if neg {
        -v
    } else {
        v
    }
}

/// glibc `inet_aton()`: 1 to 4 dot-separated parts, each decimal, octal (leading `0`) or hex
/// (`0x`); the last part fills the remaining bytes (`a` = 32 bits, `a.b` = 8.24, `a.b.c` =
/// 8.8.16). Trailing white space and anything after it is ignored, as glibc does.
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut parts: Vec<u32> = Vec::with_capacity(4);
    let mut val: u64;
    loop {
        if i >= b.len() || !b[i].is_ascii_digit() {
            return None;
        }
        val = 0;
        let mut base = 10u64;
        let mut digit = false;
        if b[i] == b'0' {
            i += 1;
            if i < b.len() && (b[i] == b'x' || b[i] == b'X') {
                base = 16;
                i += 1;
            } else {
                base = 8;
                digit = true;
            }
        }
        while i < b.len() {
            let c = b[i];
            let d = if c.is_ascii_digit() {
                if base == 8 && (c == b'8' || c == b'9') {
                    return None;
                }
                (c - b'0') as u64
            } else if base == 16 && c.is_ascii_hexdigit() {
                (c.to_ascii_lowercase() - b'a' + 10) as u64
            } else {
                break;
            };
            val = val * base + d;
            if val > u32::MAX as u64 {
                return None;
            }
            digit = true;
            i += 1;
        }
        if !digit {
            // "0x" without hex digits: glibc's strtoul stops after the "0" and the "x" is junk.
            return None;
        }
        if i < b.len() && b[i] == b'.' {
            if parts.len() >= 3 || val > 0xff {
                return None;
            }
            parts.push(val as u32);
            i += 1;
        } else {
            break;
        }
    }
    if i < b.len() && !c_isspace(b[i]) {
        return None;
    }
    let max: [u64; 4] = [0xffff_ffff, 0xff_ffff, 0xffff, 0xff];
    let n = parts.len();
    if val > max[n] {
        return None;
    }
    let mut addr = val as u32;
    for (k, p) in parts.iter().enumerate() {
        addr |= p << (24 - 8 * k as u32);
    }
    Some(Ipv4Addr::from(addr))
}

/// glibc `inet_ntop(AF_INET6)`: RFC 5952-like, but an address whose first 96 bits are zero
/// (with at least the last 32 bits non-zero in the 7th word position, i.e. a zero run of exactly
/// 6 words) or an IPv4-mapped address prints its last 32 bits as a dotted quad.
pub fn inet_ntop6(a: &Ipv6Addr) -> String {
    let w = a.segments();
    // Longest run of zero words (first one on ties), only if at least 2 long.
    let (mut best_base, mut best_len) = (usize::MAX, 0usize);
    let mut i = 0;
    while i < 8 {
        if w[i] == 0 {
            let start = i;
            while i < 8 && w[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best_base = start;
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best_base = usize::MAX;
    }
    let mut out = String::new();
    let mut i = 0;
    while i < 8 {
        if best_base != usize::MAX && i >= best_base && i < best_base + best_len {
            if i == best_base {
                out.push(':');
            }
            i += 1;
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6 && best_base == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
            let o = a.octets();
            out.push_str(&format!("{}.{}.{}.{}", o[12], o[13], o[14], o[15]));
            return out;
        }
        out.push_str(&format!("{:x}", w[i]));
        i += 1;
    }
    if best_base != usize::MAX && best_base + best_len == 8 {
        out.push(':');
    }
    out
}

/// glibc `qsort()` as used by ipvsadm (`msort_with_tmp`: top-down merge sort, left half of
/// `n / 2` elements, ties taken from the left). With a transitive comparator any sort gives the
/// same answer; libipvs' comparators subtract unsigned values into an `int`, so they are not
/// transitive, and only this exact algorithm reproduces ipvsadm's output order.
pub fn glibc_msort<T: Clone>(v: &mut [T], cmp: &dyn Fn(&T, &T) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    {
        let (a, b) = v.split_at_mut(n1);
        glibc_msort(a, cmp);
        glibc_msort(b, cmp);
    }
    let mut tmp: Vec<T> = Vec::with_capacity(n);
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(&v[i], &v[j]) <= 0 {
            tmp.push(v[i].clone());
            i += 1;
        } else {
            tmp.push(v[j].clone());
            j += 1;
        }
    }
    tmp.extend_from_slice(&v[i..n1]);
    tmp.extend_from_slice(&v[j..n]);
    v.clone_from_slice(&tmp);
}

/// `int` result of C `a - b` for two unsigned 32-bit values (wrapping, then reinterpreted).
pub fn c_diff_u32(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}
