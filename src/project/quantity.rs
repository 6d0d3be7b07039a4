//! Exact parser for Kubernetes resource quantities, mirroring
//! `k8s.io/apimachinery/pkg/api/resource.ParseQuantity`.
//!
//! Upstream semantics reproduced here: the value is kept exactly down to nano
//! (10^-9) units and a finer non-zero remainder is rounded away from zero
//! (`"0.9n"` is `1n`); binary-suffixed quantities are silently capped at
//! `2^63-1` in magnitude (`"9Ei"`); `"1E"` is exa (10^18) while `"1E3"` is a
//! decimal exponent; and a bare sign, `"."` or a bare suffix with no digits
//! parses as zero (`"Gi"`, `"k"`, `"-"`), except where upstream's slow path
//! rejects it (`"Pi"`, `"Ei"`, `"e-10"`).

/// Largest magnitude of a binary-SI quantity (upstream caps it silently).
const BINARY_CAP: i128 = i64::MAX as i128;
/// Suffix, power of ten, power of two.
#[rustfmt::skip]
const SUFFIXES: [(&str, i64, u32); 16] = [
    ("n", -9, 0), ("u", -6, 0), ("m", -3, 0), ("", 0, 0), ("k", 3, 0), ("M", 6, 0), ("G", 9, 0),
    ("T", 12, 0), ("P", 15, 0), ("E", 18, 0), ("Ki", 0, 10), ("Mi", 0, 20), ("Gi", 0, 30),
    ("Ti", 0, 40), ("Pi", 0, 50), ("Ei", 0, 60),
];

/// An exact decimal value of a Kubernetes quantity: `value = mantissa * 10^exp`.
///
/// The representation is canonical (no trailing zeros in `mantissa`, zero is
/// `0 * 10^0`), so `==` compares values. `exp` is never below -9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    mantissa: i128,
    exp: i32,
}

/// Why a string is not a valid quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The input was the empty string.
    #[error("empty quantity")]
    Empty,
    /// The input does not follow the quantity grammar (input, reason).
    #[error("invalid quantity {0:?}: {1}")]
    Invalid(String, &'static str),
    /// The input is well formed but too large (or its exponent too extreme) to represent.
    #[error("quantity {0:?} is out of range")]
    OutOfRange(String),
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Quantity {
    const ZERO: Quantity = Quantity {
        mantissa: 0,
        exp: 0,
    };

    /// Parses `<signedNumber><suffix>` exactly as Kubernetes' `ParseQuantity` does.
    pub fn parse(s: &str) -> Result<Self, QuantityError> {
        let invalid = |why| QuantityError::Invalid(s.to_owned(), why);
        if s.is_empty() {
            return Err(QuantityError::Empty);
        }
        let b = s.as_bytes();
        let digits_from = |mut p: usize| {
            while p < b.len() && b[p].is_ascii_digit() {
                p += 1;
            }
            p
        };
        let sign = if b[0] == b'-' { -1 } else { 1 };
        let start = usize::from(b[0] == b'-' || b[0] == b'+');
        let mut pos = digits_from(start);
        let int = &b[start..pos];
        let mut frac: &[u8] = &[];
        if b.get(pos) == Some(&b'.') {
            let end = digits_from(pos + 1);
            frac = &b[pos + 1..end];
            pos = end;
        }
        // Suffix: letters, then an optional sign, then digits (validated below).
        let suffix_start = pos;
        while pos < b.len() && b"eEinumkKMGTP".contains(&b[pos]) {
            pos += 1;
        }
        if pos < b.len() && (b[pos] == b'-' || b[pos] == b'+') {
            pos += 1;
        }
        if digits_from(pos) != b.len() {
            return Err(invalid("unexpected character"));
        }
        let suffix = &s[suffix_start..];
        let (exp10, bin_pow) = match SUFFIXES.iter().find(|t| t.0 == suffix) {
            Some(&(_, e, k)) => (e, k),
            None if suffix.len() > 1 && suffix.starts_with(['e', 'E']) => {
                (suffix[1..].parse().map_err(|_| invalid("bad exponent"))?, 0)
            }
            None => return Err(invalid("unknown suffix")),
        };
        if int.is_empty() && frac.is_empty() {
            // Upstream's fast path turns a digit-less number into 0; its slow
            // path (taken for "Pi", "Ei" and exponents below -9 after Go's
            // int32 truncation) fails to parse the empty number.
            if bin_pow > 40 || (exp10 as i32) < -9 {
                return Err(invalid("no digits"));
            }
            return Ok(Self::ZERO);
        }
        let int = &int[int.iter().take_while(|&&d| d == b'0').count()..];
        let binary = bin_pow > 0;
        if binary && int.len() > 19 {
            // >= 10^19 * 1024 > 2^63-1: capped without further ado.
            return Ok(Self::from_parts(sign * BINARY_CAP, 0));
        }
        // Binary fractions beyond 70 digits only matter through a sticky bit:
        // with >= 9 + 60 digits, 10^-9 is a multiple of the 2^k * 10^-70 grid.
        let mut sticky = false;
        if binary && frac.len() > 70 {
            sticky = frac[70..].iter().any(|&d| d != b'0');
            frac = &frac[..70];
        }
        let mut digits: Vec<u8> = int.iter().chain(frac).map(|d| d - b'0').collect();
        for _ in 0..bin_pow / 10 {
            let mut carry = 0u32;
            for d in digits.iter_mut().rev() {
                carry += u32::from(*d) * 1024;
                *d = (carry % 10) as u8;
                carry /= 10;
            }
            digits.splice(0..0, carry.to_string().bytes().map(|c| c - b'0'));
        }
        let frac_len = i64::try_from(frac.len()).unwrap_or(i64::MAX);
        let exp = exp10.saturating_sub(frac_len);
        finish(digits, exp, sticky, binary, sign).ok_or_else(|| QuantityError::OutOfRange(s.into()))
    }

    fn from_parts(mut mantissa: i128, mut exp: i32) -> Self {
        if mantissa == 0 {
            return Self::ZERO;
        }
        while mantissa % 10 == 0 && exp < i32::MAX {
            mantissa /= 10;
            exp += 1;
        }
        Quantity { mantissa, exp }
    }

    /// `|value| * mul / div`, rounded up (or half up) in magnitude, with the sign reapplied.
    fn scaled(&self, mul: i128, div: i128, half_up: bool) -> Option<i64> {
        if div <= 0 {
            return None;
        }
        let mag = self.mantissa.checked_abs()?;
        let pow = 10i128.checked_pow(self.exp.unsigned_abs())?;
        let (n, d) = if self.exp >= 0 {
            (mag.checked_mul(pow)?.checked_mul(mul)?, div)
        } else {
            (mag.checked_mul(mul)?, div.checked_mul(pow)?)
        };
        let (q, r) = (n / d, n % d);
        let up = if half_up { r >= d - r } else { r > 0 };
        let q = q + i128::from(up);
        i64::try_from(if self.mantissa < 0 { -q } else { q }).ok()
    }

    /// Value rounded up to a whole number (as Kubernetes' Value() does), None if it does not fit in i64.
    ///
    /// Like upstream's int64 path, rounding is away from zero: `-1.5` gives `-2`.
    pub fn value_ceil(&self) -> Option<i64> {
        self.scaled(1, 1, false)
    }

    /// Value in thousandths, rounded up (as Kubernetes' MilliValue()), away from zero for negatives.
    pub fn milli_value_ceil(&self) -> Option<i64> {
        self.scaled(1000, 1, false)
    }

    /// Value divided by `unit` (e.g. 1024*1024 for MiB, 1<<30 for GiB), rounded up
    /// (away from zero). None if `unit <= 0` or the result does not fit in i64.
    pub fn div_ceil(&self, unit: i64) -> Option<i64> {
        self.scaled(1, i128::from(unit), false)
    }

    /// Value divided by `unit`, rounded to nearest with halves away from zero.
    /// None if `unit <= 0` or the result does not fit in i64.
    pub fn div_round(&self, unit: i64) -> Option<i64> {
        self.scaled(1, i128::from(unit), true)
    }

    /// True if the value is strictly below zero (`"-0"` is not negative).
    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }
}

/// Rounds `digits * 10^exp` up to nano (away from zero, `sticky` meaning a
/// non-zero tail was already cut), applies the binary cap and builds the value.
fn finish(
    mut digits: Vec<u8>,
    mut exp: i64,
    mut sticky: bool,
    bin: bool,
    sign: i128,
) -> Option<Quantity> {
    if exp < -9 {
        let cut = usize::try_from((-9i64).saturating_sub(exp)).unwrap_or(usize::MAX);
        let keep = digits.len().saturating_sub(cut);
        sticky |= digits[keep..].iter().any(|&d| d != 0);
        digits.truncate(keep);
        exp = -9;
    }
    if sticky {
        // Add one nano; the extra leading zero absorbs a carry out of all nines.
        digits.insert(0, 0);
        if let Some(i) = digits.iter().rposition(|&d| d != 9) {
            digits[i] += 1;
            digits[i + 1..].fill(0);
        }
    }
    let lead = digits.iter().take_while(|&&d| d == 0).count();
    let trail = digits[lead..].iter().rev().take_while(|&&d| d == 0).count();
    let digits = &digits[lead..digits.len() - trail];
    if digits.is_empty() {
        return Some(Quantity::ZERO);
    }
    exp = exp.saturating_add(trail as i64);
    if bin {
        // Integer part has len + exp digits; 20 or more means >= 10^19 > cap.
        let int_len = digits.len() as i64 + exp;
        let capped = int_len > 19 || {
            let m = digits.iter().fold(0i128, |m, &d| m * 10 + i128::from(d));
            m * 10i128.pow((exp + 9) as u32) > BINARY_CAP * 1_000_000_000
        };
        if capped {
            return Some(Quantity::from_parts(sign * BINARY_CAP, 0));
        }
    }
    if digits.len() > 38 {
        return None;
    }
    let m = digits.iter().fold(0i128, |m, &d| m * 10 + i128::from(d));
    Some(Quantity::from_parts(sign * m, i32::try_from(exp).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn values_for_every_suffix() {
        #[rustfmt::skip]
        let table: &[(&str, i64, i64)] = &[
            ("1n", 1, 1), ("1u", 1, 1), ("100m", 1, 100), ("7500m", 8, 7500), ("2", 2, 2000),
            ("3k", 3000, 3_000_000), ("4M", 4_000_000, 4_000_000_000),
            ("5G", 5_000_000_000, 5_000_000_000_000), ("6T", 6_000_000_000_000, 6_000_000_000_000_000),
            ("1Ki", 1024, 1_024_000), ("1Mi", 1 << 20, 1_048_576_000), ("0.5Ki", 512, 512_000),
            ("1.5Gi", 1_610_612_736, 1_610_612_736_000), ("1e3", 1000, 1_000_000), ("12E-2", 1, 120),
            ("1.3E+6", 1_300_000, 1_300_000_000), (".5", 1, 500), ("5.", 5, 5000),
            ("+1.G", 1_000_000_000, 1_000_000_000_000), ("-100m", -1, -100), ("-1.5", -2, -1500),
            ("-1Ki", -1024, -1_024_000),
            ("0.9n", 1, 1),             // rounded up to 1n
            ("3.001n", 1, 1),           // rounded up to 4n
            ("0.000000000001Ki", 1, 1), // 1.024n rounded up to 2n
        ];
        for &(s, v, mv) in table {
            assert_eq!(q(s).value_ceil(), Some(v), "{s} value");
            assert_eq!(q(s).milli_value_ceil(), Some(mv), "{s} milli");
        }
        assert_eq!(q("1Ti").value_ceil(), Some(1 << 40));
        assert_eq!(q("1Pi").value_ceil(), Some(1 << 50));
        assert_eq!(q("3Ei").value_ceil(), Some(3 << 60));
        assert_eq!(q("2P").value_ceil(), Some(2_000_000_000_000_000));
        assert_eq!(q("9E").value_ceil(), Some(9_000_000_000_000_000_000));
        assert_eq!(q("9E").milli_value_ceil(), None);
        assert_eq!(q("3.001n"), q("4n"));
        assert_eq!(q("9.9999999991"), q("10")); // carry through the nano round-up
        assert_eq!(q("-0.99999999999"), q("-1"));
        assert_eq!(q("0.000000000001Ki"), q("2n"));
        assert_eq!(q("0.00000012354"), q("124n"));
        assert_eq!(q("100.035k"), q("100035"));
        assert_eq!(q("-0"), Quantity::ZERO);
        assert!(q("-1m").is_negative() && !q("-0").is_negative() && !q("1").is_negative());
    }

    #[test]
    fn upper_case_e_alone_is_exa_but_with_digits_is_exponent() {
        assert_eq!(q("1E"), q("1000000000000000000"));
        assert_eq!(q("1E3"), q("1000"));
        assert_eq!(q("12E"), q("12e18"));
        assert_eq!(q("1.01E"), q("101e16"));
        assert!(Quantity::parse("1e").is_err()); // lower-case "e" is not a suffix
    }

    #[test]
    fn divisions() {
        assert_eq!(q("500M").div_round(1 << 20), Some(477));
        assert_eq!(q("500M").div_ceil(1 << 20), Some(477));
        assert_eq!(q("128Mi").div_round(1 << 20), Some(128));
        assert_eq!(q("128Mi").div_ceil(1 << 20), Some(128));
        assert_eq!(q("32601820Ki").div_round(1 << 20), Some(31838));
        assert_eq!(q("1536Mi").div_round(1 << 30), Some(2)); // 1.5 rounds half up
        assert_eq!(q("1.4Gi").div_round(1 << 30), Some(1));
        assert_eq!(q("1.4Gi").div_ceil(1 << 30), Some(2));
        assert_eq!(q("-1536Mi").div_round(1 << 30), Some(-2));
        assert_eq!(q("1n").div_ceil(1 << 30), Some(1));
        assert_eq!(q("1Gi").div_ceil(0), None);
        assert_eq!(q("1Gi").div_round(-1), None);
        assert_eq!(q("1e30").div_round(1 << 30), None);
        assert_eq!(q("1e30").div_ceil(i64::MAX), Some(108_420_217_249));
    }

    #[test]
    fn binary_cap_and_huge_values() {
        assert_eq!(q("9Ei").value_ceil(), Some(i64::MAX));
        assert_eq!(q("9223372036854775807Ki").value_ceil(), Some(i64::MAX));
        assert_eq!(q("99999999999999999999999Ei").value_ceil(), Some(i64::MAX));
        assert_eq!(q("-8Ei").value_ceil(), Some(-i64::MAX));
        assert_eq!(q("7.99999999999999999999Ei").value_ceil(), Some(i64::MAX));
        assert_eq!(q("1e40").value_ceil(), None);
        assert_eq!(q("18446744073709551616").value_ceil(), None); // decimal is not capped
        assert_eq!(q("0e99999999999"), Quantity::ZERO);
        assert_eq!(q("1e-99999999999"), q("1n"));
        let big = format!("1{}", "0".repeat(60));
        assert_eq!(q(&big), q("1e60"));
        for s in [format!("1{}1", "0".repeat(60)), "1e9999999999".into()] {
            assert_eq!(Quantity::parse(&s), Err(QuantityError::OutOfRange(s)));
        }
        let tiny = format!("0.{}1Ei", "0".repeat(200));
        assert_eq!(q(&tiny), q("1n"));
    }

    #[test]
    fn digitless_quirks_follow_upstream() {
        for s in [
            "-", "+", ".", "-.", "Gi", "Ti", "k", "n", "m", "e5", "+Ki", ".M",
        ] {
            assert_eq!(q(s), Quantity::ZERO, "{s}");
        }
        for s in ["Pi", "Ei", "e-10", "-Ei"] {
            assert!(Quantity::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn invalid_inputs() {
        assert_eq!(Quantity::parse(""), Err(QuantityError::Empty));
        let bad = "1 Gi| 1|1 |1GB|1.2.3|--1|+-1|1e|1e+|1ee3|1Ki5|0x10|1,000|1i|1K|1Gib|1-3|1.1.M|0.1mi|aoeu|1E3.5|1µ|Non-Numeric|1e99999999999999999999";
        for s in bad.split('|') {
            assert!(
                matches!(Quantity::parse(s), Err(QuantityError::Invalid(ref i, _)) if i == s),
                "{s:?} should be invalid"
            );
        }
    }

    #[test]
    fn never_panics_on_short_strings() {
        let alphabet: Vec<char> = "0159.+-eEkKMGimun ".chars().collect();
        let (mut inputs, mut level) = (vec![], vec![String::new()]);
        for _ in 0..3 {
            let next = level
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")));
            level = next.collect();
            inputs.extend(level.iter().cloned());
        }
        assert_eq!(inputs.len(), 18 + 18 * 18 + 18 * 18 * 18);
        for s in &inputs {
            if let Ok(v) = Quantity::parse(s) {
                let _ = (v.value_ceil(), v.milli_value_ceil(), v.div_ceil(1 << 20));
                let _ = (v.div_round(3), v.div_ceil(i64::MAX), v.is_negative());
            }
        }
    }
}
