//! FIL amounts on the command line, as Lotus's flags take them: whole or fractional FIL (`10`, `0.5`, `5 FIL`)
//! or attoFIL (`100`, for gas premiums).

use fvm_shared::econ::TokenAmount;

/// An amount in attoFIL (`100`).
pub fn attofil(text: &str) -> anyhow::Result<TokenAmount> {
    let atto: fvm_shared::bigint::BigInt =
        text.trim().parse().map_err(|_| anyhow::anyhow!("invalid attoFIL amount {text:?}"))?;
    anyhow::ensure!(atto >= 0.into(), "invalid attoFIL amount {text:?}: negative");
    Ok(TokenAmount::from_atto(atto))
}

/// Whole or fractional FIL (`10`, `0.5`, `5 FIL`).
pub fn fil(text: &str) -> anyhow::Result<TokenAmount> {
    let number = text.trim().strip_suffix("FIL").unwrap_or(text).trim();
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit());
    if whole.is_empty() || fraction.len() > 18 || !digits {
        anyhow::bail!("invalid FIL amount {text:?} (e.g. 5, 0.5 or \"0.5 FIL\")");
    }
    attofil(&format!("{whole}{fraction:0<18}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse() {
        assert_eq!(fil("10").unwrap(), TokenAmount::from_whole(10));
        assert_eq!(fil("0.5").unwrap().atto().to_string(), "500000000000000000");
        assert_eq!(fil("5 FIL").unwrap(), TokenAmount::from_whole(5));
        assert!(fil("1.2.3").is_err() && fil("-1").is_err() && fil("").is_err() && fil("FIL").is_err());
        assert_eq!(attofil("100").unwrap().atto().to_string(), "100");
        assert!(attofil("-5").is_err());
    }
}
