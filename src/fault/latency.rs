//! Latency distributions: fixed, uniform, normal, lognormal and pareto,
//! sampled from a seeded [`Rng`].

use std::time::Duration;

use super::rng::Rng;

#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    Fixed(Duration),
    Uniform {
        min: Duration,
        max: Duration,
    },
    /// Clamped at zero: a negative draw becomes no delay.
    Normal {
        mean: Duration,
        stddev: Duration,
    },
    /// Given by the mean and standard deviation of the delay itself.
    LogNormal {
        mean: Duration,
        stddev: Duration,
    },
    /// `scale` is the smallest delay; `shape` (alpha) sets the tail.
    Pareto {
        scale: Duration,
        shape: f64,
    },
}

impl Distribution {
    pub fn sample(&self, rng: &mut Rng) -> Duration {
        let secs = match *self {
            Distribution::Fixed(d) => return d,
            Distribution::Uniform { min, max } => {
                let (a, b) = (min.as_secs_f64(), max.as_secs_f64());
                a + (b - a) * rng.f64()
            }
            Distribution::Normal { mean, stddev } => mean.as_secs_f64() + stddev.as_secs_f64() * rng.normal(),
            Distribution::LogNormal { mean, stddev } => {
                let (mu, sigma) = lognormal_params(mean.as_secs_f64(), stddev.as_secs_f64());
                (mu + sigma * rng.normal()).exp()
            }
            Distribution::Pareto { scale, shape } => {
                let u = 1.0 - rng.f64(); // (0, 1]
                scale.as_secs_f64() / u.powf(1.0 / shape)
            }
        };
        Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(Duration::MAX)
    }

    /// The distribution's mean (for pareto with shape <= 1, infinite: `None`).
    pub fn mean(&self) -> Option<Duration> {
        match *self {
            Distribution::Fixed(d) => Some(d),
            Distribution::Uniform { min, max } => Some((min + max) / 2),
            Distribution::Normal { mean, .. } | Distribution::LogNormal { mean, .. } => Some(mean),
            Distribution::Pareto { scale, shape } => (shape > 1.0).then(|| scale.mul_f64(shape / (shape - 1.0))),
        }
    }

    /// A short description: `200ms`, `uniform(100ms..300ms)`, `normal(200ms, 50ms)`.
    pub fn describe(&self) -> String {
        match self {
            Distribution::Fixed(d) => format!("{d:?}"),
            Distribution::Uniform { min, max } => format!("uniform({min:?}..{max:?})"),
            Distribution::Normal { mean, stddev } => format!("normal({mean:?}, {stddev:?})"),
            Distribution::LogNormal { mean, stddev } => format!("lognormal({mean:?}, {stddev:?})"),
            Distribution::Pareto { scale, shape } => format!("pareto({scale:?}, {shape})"),
        }
    }
}

/// The underlying normal's mu and sigma for a lognormal of the given mean and stddev.
fn lognormal_params(mean: f64, stddev: f64) -> (f64, f64) {
    let mean = mean.max(1e-9);
    let sigma2 = (1.0 + (stddev * stddev) / (mean * mean)).ln();
    (mean.ln() - sigma2 / 2.0, sigma2.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn sample_mean(d: &Distribution, n: usize) -> f64 {
        let mut rng = Rng::new(42);
        (0..n).map(|_| d.sample(&mut rng).as_secs_f64()).sum::<f64>() / n as f64
    }

    #[test]
    fn sampled_means_match_each_distribution_within_five_percent() {
        let cases = [
            Distribution::Fixed(ms(100)),
            Distribution::Uniform { min: ms(50), max: ms(250) },
            Distribution::Normal { mean: ms(200), stddev: ms(40) },
            Distribution::LogNormal { mean: ms(200), stddev: ms(100) },
            Distribution::Pareto { scale: ms(100), shape: 3.0 },
        ];
        for d in cases {
            let want = d.mean().expect("finite mean").as_secs_f64();
            let got = sample_mean(&d, 10_000);
            assert!((got - want).abs() / want < 0.05, "{}: mean {got} vs {want}", d.describe());
        }
    }

    #[test]
    fn uniform_samples_stay_within_bounds_and_normal_never_goes_negative() {
        let mut rng = Rng::new(3);
        let u = Distribution::Uniform { min: ms(10), max: ms(20) };
        let n = Distribution::Normal { mean: ms(5), stddev: ms(50) };
        for _ in 0..10_000 {
            let s = u.sample(&mut rng);
            assert!(s >= ms(10) && s <= ms(20));
            let _ = n.sample(&mut rng); // a Duration cannot be negative; this must not panic
        }
    }
}
