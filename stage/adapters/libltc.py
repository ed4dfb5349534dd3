"""libltc, bound with ctypes: LTC read from audio samples and written to them.

libltc (Debian ``libltc11``) is the biphase-mark codec: :class:`LtcDecoder`
takes samples and gives back frames with the samples they started and ended
on (libltc's ``LTCFrameExt``), :class:`LtcEncoder` turns a frame number into
the samples of one frame, as many as asked for.  The structures below match
``/usr/include/ltc.h`` (1.3) field for field on a little-endian machine:
``LTCFrame`` is 80 bits in transmission order (bit 0 is the lowest bit of its
first byte), padded to 12 bytes by its ``unsigned int`` bit fields.

Why frames are written one at a time, each to an exact length: a master's
frame starts on the sample where picture reaches it, so the engine asks for
frame ``n`` to last exactly the samples until frame ``n + 1`` starts.
libltc's ``ltc_encoder_encode_byte`` takes a speed that stretches its bit
cells; the speed ``samples × fps / samplerate`` spreads the 80 bits over
exactly ``samples`` (libltc carries the fractional sample between cells and
starts each frame from a reset, with half a sample carried, so the cells' sum
rounds to the whole).  A reset also leaves the signal low, and the polarity
bit makes every frame end where it began: each frame's first edge rises.

This is the only module that loads libltc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import struct
from array import array
from typing import Any

from stage.core.ltc import BITS_PER_FRAME, USER_BITS_MAX, LtcFrame, ltc_rate
from stage.core.timecode import Rate, frames_to_hmsf
from stage.errors import LtcError

__all__ = [
    "LTCFrame",
    "LTCFrameExt",
    "LtcDecoder",
    "LtcEncoder",
    "SMPTETimecode",
    "frame_to_time",
    "library",
    "time_to_frame",
]

_SONAME = "libltc.so.11"
QUEUE_FRAMES = 32  # frames libltc holds between reads: a cycle of a few ms reads one or two

# enum LTC_TV_STANDARD
LTC_TV_525_60 = 0  # 30 fps
LTC_TV_625_50 = 1  # 25 fps
LTC_TV_1125_60 = 2  # 30 fps
LTC_TV_FILM_24 = 3  # 24 fps
# enum LTC_BG_FLAGS
LTC_USE_DATE = 1
LTC_TC_CLOCK = 2
LTC_BGF_DONT_TOUCH = 4
LTC_NO_PARITY = 8

_U = ctypes.c_uint


class LTCFrame(ctypes.Structure):
    """``struct LTCFrame`` (little-endian layout): the 80 bits of one frame."""

    _fields_ = (
        ("frame_units", _U, 4),
        ("user1", _U, 4),
        ("frame_tens", _U, 2),
        ("dfbit", _U, 1),
        ("col_frame", _U, 1),
        ("user2", _U, 4),
        ("secs_units", _U, 4),
        ("user3", _U, 4),
        ("secs_tens", _U, 3),
        ("biphase_mark_phase_correction", _U, 1),
        ("user4", _U, 4),
        ("mins_units", _U, 4),
        ("user5", _U, 4),
        ("mins_tens", _U, 3),
        ("binary_group_flag_bit0", _U, 1),
        ("user6", _U, 4),
        ("hours_units", _U, 4),
        ("user7", _U, 4),
        ("hours_tens", _U, 2),
        ("binary_group_flag_bit1", _U, 1),
        ("binary_group_flag_bit2", _U, 1),
        ("user8", _U, 4),
        ("sync_word", _U, 16),
    )


class LTCFrameExt(ctypes.Structure):
    """``struct LTCFrameExt``: a decoded frame with where it was in the stream and how loud."""

    _fields_ = (
        ("ltc", LTCFrame),
        ("off_start", ctypes.c_longlong),
        ("off_end", ctypes.c_longlong),
        ("reverse", ctypes.c_int),
        ("biphase_tics", ctypes.c_float * BITS_PER_FRAME),
        ("sample_min", ctypes.c_ubyte),
        ("sample_max", ctypes.c_ubyte),
        ("volume", ctypes.c_double),
    )


class SMPTETimecode(ctypes.Structure):
    """``struct SMPTETimecode``: a timecode (and the date, when user bits carry one)."""

    _fields_ = (
        ("timezone", ctypes.c_char * 6),
        ("years", ctypes.c_ubyte),
        ("months", ctypes.c_ubyte),
        ("days", ctypes.c_ubyte),
        ("hours", ctypes.c_ubyte),
        ("mins", ctypes.c_ubyte),
        ("secs", ctypes.c_ubyte),
        ("frame", ctypes.c_ubyte),
    )


_P = ctypes.c_void_p
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "ltc_decoder_create": (_P, [ctypes.c_int, ctypes.c_int]),
    "ltc_decoder_free": (ctypes.c_int, [_P]),
    "ltc_decoder_write_float": (None, [_P, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t, ctypes.c_longlong]),
    "ltc_decoder_write_s16": (None, [_P, ctypes.POINTER(ctypes.c_short), ctypes.c_size_t, ctypes.c_longlong]),
    "ltc_decoder_read": (ctypes.c_int, [_P, ctypes.POINTER(LTCFrameExt)]),
    "ltc_decoder_queue_flush": (None, [_P]),
    "ltc_encoder_create": (_P, [ctypes.c_double, ctypes.c_double, ctypes.c_int, ctypes.c_int]),
    "ltc_encoder_free": (None, [_P]),
    "ltc_encoder_set_timecode": (None, [_P, ctypes.POINTER(SMPTETimecode)]),
    "ltc_encoder_set_user_bits": (None, [_P, ctypes.c_ulong]),
    "ltc_encoder_get_frame": (None, [_P, ctypes.POINTER(LTCFrame)]),
    "ltc_encoder_set_frame": (None, [_P, ctypes.POINTER(LTCFrame)]),
    "ltc_encoder_set_buffersize": (ctypes.c_int, [_P, ctypes.c_double, ctypes.c_double]),
    "ltc_encoder_set_volume": (ctypes.c_int, [_P, ctypes.c_double]),
    "ltc_encoder_set_filter": (None, [_P, ctypes.c_double]),
    "ltc_encoder_reset": (None, [_P]),
    "ltc_encoder_encode_byte": (ctypes.c_int, [_P, ctypes.c_int, ctypes.c_double]),
    "ltc_encoder_encode_frame": (None, [_P]),
    "ltc_encoder_get_bufferptr": (ctypes.c_int, [_P, ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte)), ctypes.c_int]),
    "ltc_frame_to_time": (None, [ctypes.POINTER(SMPTETimecode), ctypes.POINTER(LTCFrame), ctypes.c_int]),
    "ltc_time_to_frame": (None, [ctypes.POINTER(LTCFrame), ctypes.POINTER(SMPTETimecode), ctypes.c_int, ctypes.c_int]),
    "ltc_frame_get_user_bits": (ctypes.c_ulong, [ctypes.POINTER(LTCFrame)]),
}

@functools.cache
def library() -> ctypes.CDLL:
    """libltc, loaded once with every function used here typed; :class:`LtcError` when it is not installed."""
    name = ctypes.util.find_library("ltc") or _SONAME
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise LtcError(f"cannot load libltc ({name}): {exc}; install it with `apt-get install libltc11`") from None
    for fn, (restype, argtypes) in _SIGNATURES.items():
        f = getattr(lib, fn)
        f.restype, f.argtypes = restype, argtypes
    return lib


def standard(rate: Rate) -> int:
    """libltc's TV standard for ``rate``: it decides where the polarity bit goes (bit 59 at 25 fps, else 27)."""
    return {25: LTC_TV_625_50, 24: LTC_TV_FILM_24}.get(rate.nominal, LTC_TV_525_60)


def frame_to_time(frame: LTCFrame) -> tuple[int, int, int, int]:
    """Hours, minutes, seconds and frame number of an ``LTCFrame`` (``ltc_frame_to_time``)."""
    tc = SMPTETimecode()
    library().ltc_frame_to_time(ctypes.byref(tc), ctypes.byref(frame), 0)
    return tc.hours, tc.mins, tc.secs, tc.frame


def time_to_frame(frame: LTCFrame, hmsf: tuple[int, int, int, int], rate: Rate) -> None:
    """Set the timecode of ``frame`` (``ltc_time_to_frame``, which also sets the polarity bit)."""
    tc = SMPTETimecode(b"+0000", 0, 0, 0, *hmsf)
    library().ltc_time_to_frame(ctypes.byref(frame), ctypes.byref(tc), standard(rate), 0)


def user_bits(frame: LTCFrame) -> int:
    """The 32 user bits, binary group 8 in the top four (``ltc_frame_get_user_bits``)."""
    return int(library().ltc_frame_get_user_bits(ctypes.byref(frame)))


def read_frame(ext: LTCFrameExt) -> LtcFrame:
    """A decoded ``LTCFrameExt`` as the engine's :class:`~stage.core.ltc.LtcFrame`."""
    f = ext.ltc
    h, m, s, fr = frame_to_time(f)
    return LtcFrame(h, m, s, fr, drop=bool(f.dfbit), colour=bool(f.col_frame), user_bits=user_bits(f),
                    start=int(ext.off_start), end=int(ext.off_end), reverse=ext.reverse != 0,
                    volume_db=float(ext.volume))


class LtcDecoder:
    """libltc's decoder for one audio stream: :meth:`decode` samples as they come, frames as they complete.

    Samples are counted from wherever the caller counts them (``frame0`` of
    each call: the engine gives JACK's frame of the cycle's first sample), so
    every frame comes back with the very samples its signal began and ended on.
    """

    def __init__(self, samplerate: int, rate: Rate, *, max_block: int = 8192) -> None:
        rate = ltc_rate(rate)
        lib = library()
        self._lib = lib
        self._decoder = lib.ltc_decoder_create(int(samplerate / rate.fps), QUEUE_FRAMES)
        if not self._decoder:
            raise LtcError("libltc could not create a decoder (out of memory)")
        self._ext = LTCFrameExt()
        self._ext_ref = ctypes.byref(self._ext)
        self._buffer = (ctypes.c_float * max_block)()
        self._bytes = memoryview(self._buffer).cast("B")

    def decode(self, samples: memoryview[float], frame0: int) -> list[LtcFrame]:
        """Feed float samples (full scale ±1) whose first is sample ``frame0``; the frames that completed."""
        n = len(samples)
        if n > len(self._buffer):
            self._buffer = (ctypes.c_float * n)()
            self._bytes = memoryview(self._buffer).cast("B")
        self._bytes[: 4 * n] = samples.cast("B")  # JACK's buffer may be read-only to ctypes: copy it, in C
        self._lib.ltc_decoder_write_float(self._decoder, self._buffer, n, frame0)
        return self._read()

    def decode_s16(self, samples: array[int], frame0: int) -> list[LtcFrame]:
        """Feed 16-bit signed samples whose first is sample ``frame0``; the frames that completed."""
        c = (ctypes.c_short * len(samples)).from_buffer(samples)
        self._lib.ltc_decoder_write_s16(self._decoder, c, len(samples), frame0)
        return self._read()

    def _read(self) -> list[LtcFrame]:
        out: list[LtcFrame] = []
        while self._lib.ltc_decoder_read(self._decoder, self._ext_ref) > 0:
            out.append(read_frame(self._ext))
        return out

    def close(self) -> None:
        """Free libltc's decoder; safe to call more than once."""
        if getattr(self, "_decoder", None):
            self._lib.ltc_decoder_free(self._decoder)
            self._decoder = None

    def __del__(self) -> None:
        self.close()


class LtcEncoder:
    """libltc's encoder at one rate: :meth:`encode` gives the float samples of one frame, exactly as many as asked.

    ``level_db`` is the peak level in dBFS; ``user_bits`` go in every frame
    (binary group 1 in the low four bits); the drop-frame flag is the rate's.
    libltc's edges rise over its standard 40 µs (SMPTE 12M allows 25-65), so
    the first sample of each half-bit is already past the middle: a frame's
    first edge is on its first sample.
    """

    def __init__(self, samplerate: int, rate: Rate, *, level_db: float = -18.0, user_bits: int = 0) -> None:
        rate = ltc_rate(rate)
        if not 0 <= user_bits <= USER_BITS_MAX:
            raise LtcError(f"user bits must fit in 32 bits, not {user_bits:#x}")
        if not -60 <= level_db <= 0:
            raise LtcError(f"the LTC level must be -60 to 0 dBFS, not {level_db}")
        lib = library()
        self._lib = lib
        self.rate = rate
        self.samplerate = samplerate
        self._fps = float(rate.fps)
        self._encoder = lib.ltc_encoder_create(float(samplerate), self._fps, standard(rate), 0)
        if not self._encoder:
            raise LtcError("libltc could not create an encoder")
        # room for a frame at the slowest speed the engine allows (the limits' 1/64), allocated once
        if lib.ltc_encoder_set_buffersize(self._encoder, float(samplerate), self._fps / 65.0) != 0:
            raise LtcError("libltc could not allocate its encoder's buffer")
        lib.ltc_encoder_set_volume(self._encoder, 0.0)  # full scale in libltc's 8 bits; the level is applied below
        frame = LTCFrame()
        lib.ltc_encoder_get_frame(self._encoder, ctypes.byref(frame))
        frame.dfbit = int(rate.drop)  # libltc guesses drop-frame from 29.97: 29.97 non-drop says otherwise
        lib.ltc_encoder_set_frame(self._encoder, ctypes.byref(frame))
        lib.ltc_encoder_set_user_bits(self._encoder, user_bits)
        self._tc = SMPTETimecode(b"+0000")
        self._tc_ref = ctypes.byref(self._tc)
        self._ptr = ctypes.POINTER(ctypes.c_ubyte)()
        self._ptr_ref = ctypes.byref(self._ptr)
        self._planes = _float_planes(10 ** (level_db / 20))

    def frame(self) -> LTCFrame:
        """The frame the encoder holds now (its last timecode, flags, user bits and polarity)."""
        f = LTCFrame()
        self._lib.ltc_encoder_get_frame(self._encoder, ctypes.byref(f))
        return f

    def encode(self, frame: int, samples: int, reverse: bool = False) -> bytes:
        """Float32 samples of frame ``frame``: its 80 bits over exactly ``samples`` (``reverse``: last bit first)."""
        h, m, s, f = frames_to_hmsf(frame, self.rate)
        tc = self._tc
        tc.hours, tc.mins, tc.secs, tc.frame = h, m, s, f
        lib, e = self._lib, self._encoder
        lib.ltc_encoder_set_timecode(e, self._tc_ref)  # recomputes the polarity bit over the whole frame
        lib.ltc_encoder_reset(e)  # low, half a sample carried: the frame rounds to exactly `samples`
        speed = samples * self._fps / self.samplerate
        for byte in range(9, -1, -1) if reverse else range(10):
            if lib.ltc_encoder_encode_byte(e, byte, -speed if reverse else speed) != 0:
                raise LtcError(f"a frame of {samples} samples does not fit libltc's buffer")
        n = lib.ltc_encoder_get_bufferptr(e, self._ptr_ref, 1)
        raw = ctypes.string_at(self._ptr, n)
        if n != samples:  # cannot happen with the reset above; never let a frame drift off its samples
            raw = (raw + raw[-1:] * samples)[:samples] if n else bytes([128]) * samples
        return _to_float32(raw, self._planes)

    def close(self) -> None:
        """Free libltc's encoder; safe to call more than once."""
        if getattr(self, "_encoder", None):
            self._lib.ltc_encoder_free(self._encoder)
            self._encoder = None

    def __del__(self) -> None:
        self.close()


def _float_planes(gain: float) -> tuple[bytes, bytes, bytes, bytes]:
    """Four translation tables: byte ``k`` of the float32 for each of libltc's 8-bit samples, at ``gain``.

    libltc reads float samples as ``128 + 127 × x``; its 8-bit output goes back the same way.
    """
    floats = [struct.pack("<f", gain * (v - 128) / 127) for v in range(256)]
    planes = tuple(bytes(f[k] for f in floats) for k in range(4))
    return planes[0], planes[1], planes[2], planes[3]


def _to_float32(raw: bytes, planes: tuple[bytes, bytes, bytes, bytes]) -> bytes:
    """libltc's 8-bit samples as float32, converted in C (translate, then interleave by slices)."""
    out = bytearray(4 * len(raw))
    for k, plane in enumerate(planes):
        out[k::4] = raw.translate(plane)
    return bytes(out)
