//! Which kernels run a decode step, one row, where candle's tile kernels need the weights
//! padded (see [`crate::projections`]). A prompt chunk is many rows, and there the tiles always
//! win. A decode step reads every weight once per token: on a CPU where that reading, not the
//! arithmetic, is what takes the time, the padding's extra third of bytes can cost more than the
//! tiles save (measured on an AMD EPYC, where decode on the unpadded rows was faster, against an
//! Intel Xeon, where it was half as fast). So it is measured at load, on the output head.

use std::time::{Duration, Instant};

use candle_core::Result;

/// Which kernels multiply a single row (a decode step) where the tile kernels pad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeKernels {
    /// The padded tiles, as prompt chunks use: fewer instructions, a third more bytes.
    Tiles,
    /// candle's row-at-a-time dot products on the unpadded weights, kept beside the padded
    /// ones (about 85 MB more for SmolLM2: the layers' padded matrices; the head's unpadded
    /// copy is the embeddings, held anyway).
    Rows,
}

/// The decode kernels this process chose, and the timing that chose them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeChoice {
    pub kernels: DecodeKernels,
    /// One row through the output head on the padded tiles, then on the unpadded rows; none
    /// when nothing was timed.
    pub head: Option<(Duration, Duration)>,
}

impl DecodeChoice {
    /// Where nothing is padded, rows are all there is.
    pub(crate) fn unpadded() -> Self {
        Self { kernels: DecodeKernels::Rows, head: None }
    }

    /// Where the head is not padded though the layers are: the tiles, untimed.
    pub(crate) fn untimed() -> Self {
        Self { kernels: DecodeKernels::Tiles, head: None }
    }

    /// The faster of the two; a tie keeps the tiles, which need no second copy of the weights.
    pub(crate) fn from_timings((tiles, rows): (Duration, Duration)) -> Self {
        let kernels = if rows < tiles { DecodeKernels::Rows } else { DecodeKernels::Tiles };
        Self { kernels, head: Some((tiles, rows)) }
    }
}

impl std::fmt::Display for DecodeChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kernels = match self.kernels {
            DecodeKernels::Tiles => "padded tiles",
            DecodeKernels::Rows => "unpadded rows",
        };
        match (self.head, self.kernels) {
            (None, DecodeKernels::Rows) => write!(f, "{kernels} (nothing padded)"),
            (None, DecodeKernels::Tiles) => write!(f, "{kernels} (not timed: the head is not padded)"),
            (Some((tiles, rows)), _) => write!(
                f,
                "{kernels} (one row through the output head: {:.2} ms on tiles, {:.2} ms on rows)",
                tiles.as_secs_f64() * 1e3,
                rows.as_secs_f64() * 1e3
            ),
        }
    }
}

/// Timed calls of each at load: a few milliseconds in all for the output head.
const TIMINGS: usize = 9;

/// The median time of `a` and of `b`, called in turn so that a burst of other work on the
/// machine falls on both. The first call of each is left out: it repacks the tiles.
pub(crate) fn alternating_medians(
    mut a: impl FnMut() -> Result<()>,
    mut b: impl FnMut() -> Result<()>,
) -> Result<(Duration, Duration)> {
    let time = |run: &mut dyn FnMut() -> Result<()>| -> Result<Duration> {
        let started = Instant::now();
        run()?;
        Ok(started.elapsed())
    };
    time(&mut a)?;
    time(&mut b)?;
    let (mut times_a, mut times_b) = (Vec::with_capacity(TIMINGS), Vec::with_capacity(TIMINGS));
    for _ in 0..TIMINGS {
        times_a.push(time(&mut a)?);
        times_b.push(time(&mut b)?);
    }
    times_a.sort_unstable();
    times_b.sort_unstable();
    Ok((times_a[TIMINGS / 2], times_b[TIMINGS / 2]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_faster_decode_kernels_win_and_a_tie_keeps_the_tiles() {
        let ms = Duration::from_millis;
        assert_eq!(DecodeChoice::from_timings((ms(2), ms(1))).kernels, DecodeKernels::Rows);
        assert_eq!(DecodeChoice::from_timings((ms(1), ms(2))).kernels, DecodeKernels::Tiles);
        assert_eq!(DecodeChoice::from_timings((ms(1), ms(1))).kernels, DecodeKernels::Tiles);
        assert_eq!(
            DecodeChoice::from_timings((ms(1), ms(2))).to_string(),
            "padded tiles (one row through the output head: 1.00 ms on tiles, 2.00 ms on rows)"
        );
        assert_eq!(DecodeChoice::unpadded().to_string(), "unpadded rows (nothing padded)");
        assert_eq!(DecodeChoice::untimed().to_string(), "padded tiles (not timed: the head is not padded)");
    }
}
