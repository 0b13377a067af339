//! Expected consensus's leader election, as Lotus computes it (lotus chain/types/electionproof.go, chain/gen,
//! chain/consensus/filcns): a miner's VRF over the round's beacon randomness (a BLS signature by its worker key)
//! gives its win count by a Poisson sortition on its share of the network's quality-adjusted power
//! ([`compute_win_count`]); its ticket is a VRF over the beacon and the base's smallest ticket; the WinningPoSt
//! challenge is drawn from the same beacon entry. The devnet (electing and validating) and the miner runtime
//! (mining) share these functions, so they cannot disagree.

use fvm_shared::address::Address;
use fvm_shared::bigint::{BigInt, Integer, Sign};

use crate::randomness::{draw_randomness, miner_entropy};

/// Expected leaders per epoch (`BlocksPerEpoch`, builtin-actors `EXPECTED_LEADERS_PER_EPOCH`): 5 on every
/// network.
pub const BLOCKS_PER_EPOCH: u64 = 5;
/// The most wins one miner can claim in one round (lotus `MaxWinCount` = 3 × `BlocksPerEpoch`).
pub const MAX_WIN_COUNT: i64 = 3 * BLOCKS_PER_EPOCH as i64;
/// The ticket of round `r` draws from the beacon at `r - TICKET_RANDOMNESS_LOOKBACK` (lotus
/// `TicketRandomnessLookback`, 1 on every network).
pub const TICKET_RANDOMNESS_LOOKBACK: i64 = 1;

/// Domain separation tags of the election (go-state-types crypto.DomainSeparationTag).
pub mod tags {
    /// Block tickets.
    pub const TICKET_PRODUCTION: i64 = 1;
    /// The election proof's VRF input.
    pub const ELECTION_PROOF_PRODUCTION: i64 = 2;
    /// The WinningPoSt challenge seed.
    pub const WINNING_POST_CHALLENGE_SEED: i64 = 3;
}

/// The VRF input of a miner's election proof for `round`, from the round's beacon entry data (lotus
/// `IsRoundWinner`: `DrawRandomnessFromBase(beacon, ElectionProofProduction, round, cbor(miner))`).
pub fn election_vrf_input(beacon: &[u8], round: i64, miner: &Address) -> [u8; 32] {
    draw_randomness(beacon, tags::ELECTION_PROOF_PRODUCTION, round, &miner_entropy(miner))
}

/// The VRF input of a miner's ticket for `round` on a base whose smallest ticket is `base_min_ticket` (lotus
/// miner `computeTicket`, after the Smoke upgrade: the base's ticket is part of the entropy).
pub fn ticket_vrf_input(beacon: &[u8], round: i64, miner: &Address, base_min_ticket: &[u8]) -> [u8; 32] {
    let mut entropy = miner_entropy(miner);
    entropy.extend_from_slice(base_min_ticket);
    draw_randomness(beacon, tags::TICKET_PRODUCTION, round - TICKET_RANDOMNESS_LOOKBACK, &entropy)
}

/// The WinningPoSt randomness of a miner for `round` (lotus `MinerGetBaseInfo` and `VerifyWinningPoStProof`):
/// both the challenged sectors and the proof's challenges come from it.
pub fn winning_post_randomness(beacon: &[u8], round: i64, miner: &Address) -> [u8; 32] {
    draw_randomness(beacon, tags::WINNING_POST_CHALLENGE_SEED, round, &miner_entropy(miner))
}

/// Fixed-point precision of the sortition: numbers are Q.256.
const PRECISION: usize = 256;

/// The numerator coefficients of the rational approximation of e^-x (lotus `expNumCoef`), integers to be
/// read as ×2^-128, highest order first.
const EXP_NUMERATOR: [&str; 8] = [
    "-648770010757830093818553637600",
    "67469480939593786226847644286976",
    "-3197587544499098424029388939001856",
    "89244641121992890118377641805348864",
    "-1579656163641440567800982336819953664",
    "17685496037279256458459817590917169152",
    "-115682590513835356866803355398940131328",
    "340282366920938463463374607431768211456",
];

/// The denominator coefficients (lotus `expDenoCoef`).
const EXP_DENOMINATOR: [&str; 14] = [
    "1225524182432722209606361",
    "114095592300906098243859450",
    "5665570424063336070530214243",
    "194450132448609991765137938448",
    "5068267641632683791026134915072",
    "104716890604972796896895427629056",
    "1748338658439454459487681798864896",
    "23704654329841312470660182937960448",
    "259380097567996910282699886670381056",
    "2250336698853390384720606936038375424",
    "14978272436876548034486263159246028800",
    "72144088983913131323343765784380833792",
    "224599776407103106596571252037123047424",
    "340282366920938463463374607431768211456",
];

/// Coefficients as Q.256 numbers (`<< (256 - 128)`).
fn coefficients(text: &[&str]) -> Vec<BigInt> {
    text.iter().map(|c| c.parse::<BigInt>().expect("a constant parses") << (PRECISION - 128)).collect()
}

/// Evaluates the polynomial `p` (Q.256, highest order first) at `x` (Q.256) by Horner's method.
fn polyval(p: &[BigInt], x: &BigInt) -> BigInt {
    let mut result = p[0].clone();
    for c in &p[1..] {
        // Q.512 >> 256 = Q.256; Go's Rsh and num-bigint's both round toward negative infinity.
        result = ((&result * x) >> PRECISION) + c;
    }
    result
}

/// e^-x for `x` in Q.256, in Q.256 (lotus `expneg`: most precise on [0, 1.725), error under 4.6e-15 on [0, 5)).
fn expneg(x: &BigInt) -> BigInt {
    let numerator = polyval(&coefficients(&EXP_NUMERATOR), x);
    let denominator = polyval(&coefficients(&EXP_DENOMINATOR), x);
    (numerator << PRECISION).div_floor(&denominator)
}

/// λ = power × BlocksPerEpoch / total, in Q.256 (lotus `lambda`).
fn lambda(power: &BigInt, total: &BigInt) -> BigInt {
    ((power * BigInt::from(BLOCKS_PER_EPOCH)) << PRECISION).div_floor(total)
}

/// The upper tail of the Poisson distribution, `1 - cdf(k)`, one k at a time (lotus `poiss`).
struct Poisson {
    lambda: BigInt,
    pmf: BigInt,
    icdf: BigInt,
    k: u64,
}

impl Poisson {
    /// Starts at k = 0: returns the sequence and `1 - cdf(0) = 1 - e^-λ`.
    fn new(lambda: BigInt) -> (Poisson, BigInt) {
        let pmf = expneg(&lambda);
        let icdf = (BigInt::from(1) << PRECISION) - &pmf;
        (Poisson { lambda, pmf, icdf: icdf.clone(), k: 0 }, icdf)
    }

    /// `1 - cdf(k + 1)`.
    fn next(&mut self) -> BigInt {
        self.k += 1;
        self.pmf = self.pmf.div_floor(&BigInt::from(self.k));
        self.pmf = (&self.pmf * &self.lambda) >> PRECISION;
        self.icdf = &self.icdf - &self.pmf;
        self.icdf.clone()
    }
}

/// How many blocks a miner with quality-adjusted `power` out of the network's `total` wins with election proof
/// `vrf_proof` (lotus `ElectionProof.ComputeWinCount`): the blake2b-256 of the VRF, read as a number in [0, 1),
/// is compared with the upper tail of Poisson(λ = 5 × power / total). Zero when either power is not positive.
pub fn compute_win_count(vrf_proof: &[u8], power: &BigInt, total: &BigInt) -> i64 {
    if power.sign() != Sign::Plus || total.sign() != Sign::Plus {
        return 0;
    }
    let digest = blake2b_simd::Params::new().hash_length(32).hash(vrf_proof);
    let lhs = BigInt::from_bytes_be(Sign::Plus, digest.as_bytes());
    let (mut poisson, mut rhs) = Poisson::new(lambda(power, total));
    let mut wins = 0;
    while lhs < rhs && wins < MAX_WIN_COUNT {
        rhs = poisson.next();
        wins += 1;
    }
    wins
}

/// A tipset's weight from its parent's (lotus filcns `Weight`): the parent weight, plus `log2(total power)`
/// × 2^8, plus that × the blocks' win counts × 1/2 (`WRatio`) × 2^8 / `BlocksPerEpoch`.
pub fn tipset_weight(
    parent_weight: &BigInt,
    total_power: &BigInt,
    win_counts: impl IntoIterator<Item = i64>,
) -> BigInt {
    let log2_power = if total_power.sign() == Sign::Plus { total_power.bits() as i64 - 1 } else { 0 };
    let wins: i64 = win_counts.into_iter().sum();
    // WRatioNum / WRatioDen = 1 / 2 (lotus buildconstants).
    let election_weight = (BigInt::from(log2_power) << 8) * wins / BigInt::from(BLOCKS_PER_EPOCH * 2);
    parent_weight + (BigInt::from(log2_power) << 8) + election_weight
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lotus's golden file chain/types/testdata/TestPoissonFunction/lam-5-0.golden: `1 - cdf(k)` for λ = 5,
    /// k = 0..=15.
    const POISSON_5: [&str; 16] = [
        "115011888277122352219705460287186602222085188670665840381425306072442950421456",
        "111110883476153136200377836679680074066161208695792222091263916395092054329056",
        "101358371473730096152058777660913753676351258758608176365860442201714814098056",
        "85104184803025029404860345962969886360001342196634766823521318546086080379726",
        "64786451464643695970862306340540052214563946494168004895597413976550163231816",
        "44468718126262362536864266718110218069126550791701242967673509407014246083906",
        "27537273677611251341865900366085356281262054372978941361070255599067648460651",
        "15443384785717600488295638686067597861358842645320154499210788593391507301186",
        "7884704228284068704814225136056498848919335315533412710548621714843919076521",
        "3685437251932106602880106497161443842008497910096333939069640115650814507266",
        "1585803763756125551913047177713916338553079207377794553330149316054262222641",
        "631424905494315983291656577965040200618797978869367559812198952601283911451",
        "233767047885228663032743828069675143146180800324189645846386301162542948456",
        "80821718035579693702392770417611659502866500883736602013381435224565655001",
        "26198385946419347512981678399017558201682822512146229215879697389573764486",
        "7990608583365898783177981059486191101288263054949438283379118111243134316",
    ];

    #[test]
    fn the_poisson_tail_matches_lotus_golden_values() {
        let (mut poisson, icdf) = Poisson::new(BigInt::from(5) << PRECISION);
        let mut values = vec![icdf];
        values.extend((0..15).map(|_| poisson.next()));
        let values: Vec<String> = values.iter().map(ToString::to_string).collect();
        assert_eq!(values, POISSON_5);
    }

    #[test]
    fn expneg_matches_lotus_golden_values() {
        // chain/types/testdata/TestExpFunction.golden: the first, second and last rows.
        let one = BigInt::from(1) << PRECISION;
        assert_eq!(expneg(&BigInt::from(0)), one);
        let x: BigInt = "2270433122300317557324921274680155055946470287561579687048187921723786855685".parse().unwrap();
        let y = "113543770489016942962237377411819033281128847358465443152965692667674515268459";
        assert_eq!(expneg(&x).to_string(), y);
        let x: BigInt =
            "578960446186580977117854925043439539266349923328202820197287920039565648199675".parse().unwrap();
        let y = "780200960193843203865524721501305631184795994974723658032277935470179306730";
        assert_eq!(expneg(&x).to_string(), y);
    }

    #[test]
    fn lambda_is_five_times_the_power_share() {
        let half = lambda(&BigInt::from(1024), &BigInt::from(2048));
        assert_eq!(half, (BigInt::from(5) << PRECISION) / 2);
    }

    #[test]
    fn win_counts_follow_the_power_share() {
        let total = BigInt::from(1000);
        assert_eq!(compute_win_count(b"vrf", &BigInt::from(0), &total), 0);
        assert_eq!(compute_win_count(b"vrf", &BigInt::from(10), &BigInt::from(0)), 0);
        // Over many VRFs the mean win count is 5 × the share.
        let mean = |power: u64| {
            let wins: i64 =
                (0u32..4000).map(|i| compute_win_count(&i.to_be_bytes(), &BigInt::from(power), &total)).sum();
            wins as f64 / 4000.0
        };
        assert!((mean(1000) - 5.0).abs() < 0.15, "{}", mean(1000));
        assert!((mean(200) - 1.0).abs() < 0.08, "{}", mean(200));
        assert!(mean(1) < 0.02);
    }

    #[test]
    fn weight_grows_with_power_and_wins() {
        let parent = BigInt::from(1000);
        let power = BigInt::from(1u64 << 20);
        // log2 = 20: + 20 × 256, + 20 × 256 × wins / 10.
        assert_eq!(tipset_weight(&parent, &power, []), BigInt::from(1000 + 5120));
        assert_eq!(tipset_weight(&parent, &power, [3, 2]), BigInt::from(1000 + 5120 + 2560));
    }

    #[test]
    fn election_inputs_differ_by_purpose() {
        let miner = Address::new_id(1000);
        let election = election_vrf_input(b"beacon", 10, &miner);
        assert_ne!(election, winning_post_randomness(b"beacon", 10, &miner));
        assert_ne!(election, ticket_vrf_input(b"beacon", 10, &miner, b"ticket"));
        assert_eq!(ticket_vrf_input(b"beacon", 10, &miner, b""), draw_randomness(b"beacon", 1, 9, &[0x43, 0, 0xe8, 7]));
    }
}
