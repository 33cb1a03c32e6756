"""Reading and writing video, streamed frame by frame (memory does not grow with the clip).

* **In**: a video file (PyAV/FFmpeg: anything it decodes) or a folder of images (in name order).
  Frames arrive as :class:`Frame`: RGB float32 (H, W, 3) in [0, 1], upright (a phone's rotation
  metadata is applied to the pixels, as EXIF orientation is for photos), shrunk to ``max_size``,
  with their presentation time in seconds, so a variable frame rate is kept. ``start`` and
  ``duration`` select a segment (seeking, not decoding what comes before).
* **Out**: a video file (H.264 in MP4 by default: ``codec``, ``crf``) whose frames keep their
  input times, with the input's audio copied packet by packet when the container takes that codec
  (re-encoded to AAC otherwise), trimmed to the segment; or a folder of PNGs. A file is written
  to a hidden temporary next to its destination and renamed when complete: an error or Ctrl-C
  leaves nothing behind, and nothing a user had is replaced without ``overwrite``.

Every problem with the input (missing, not a video, audio only, corrupt, truncated, no frames, a
codec FFmpeg cannot decode) is one :class:`~instyle.errors.InstyleError` line.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import file_mode, first_missing, folder_mode, temp_prefix
from ..choices import (
    CONTAINER_AUDIO,
    CONTAINER_SUBTITLES,
    DEFAULT_VIDEO_PIXEL_FORMAT,
    VIDEO_CODECS,
    VIDEO_CONTAINERS,
    VIDEO_PIXEL_FORMATS,
    check,
)
from ..errors import InstyleError, InstyleWarning, OptionError, UsageError, exists_error, one_line, quoted
from ..sizes import target_size
from .chroma import rgb_to_yuv420

#: The frame rate given to a folder of images (``--fps``).
DEFAULT_FPS = 24.0


def _av():
    try:
        import av
    except ImportError:
        raise InstyleError("video needs PyAV: pip install 'instyle[video]'") from None
    return av


@dataclass
class Frame:
    """One upright video frame."""

    rgb: np.ndarray  # (H, W, 3) float32 in [0, 1]
    time: float  # presentation time in seconds, from the start of the segment
    index: int  # 0, 1, 2, … within the segment
    key: bool = True  # a keyframe of the file (decoding can start here); every frame of a folder is one


class VideoSource:
    """The frames of a video file or of a folder of images, streamed.

    Args:
        path: a video file, or a folder of images (read in name order at ``fps``).
        start, duration: the segment to read, in seconds (None: from the start / to the end).
        max_size: frames whose longer side is larger are shrunk to it (area interpolation).
        fps: the frame rate of a folder of images.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        start: float | None = None,
        duration: float | None = None,
        max_size: int | None = None,
        fps: float = DEFAULT_FPS,
    ):
        self.path = os.fsdecode(os.fspath(path))
        self.start, self.duration, self.max_size = start or 0.0, duration, max_size
        self.folder = os.path.isdir(self.path)
        self.audio_codec: str | None = None
        self.rotation = 0
        # the first frame's time in the file (MPEG-TS often starts at 1.4 s): frame times, --start
        # and the audio are counted from it, so every output starts at 0
        self.origin = 0.0
        self._warned_size = False
        self.extra_streams: dict[str, int] = {}  # kind -> count of streams no output keeps
        self.audio_codecs: list[str] = []
        self.subtitle_codecs: list[str] = []  # (a folder of frames has none)
        if self.folder:
            from ..imageio import list_images

            self.files = list_images(self.path)
            self.fps = float(fps)
            self.width, self.height = self._first_size()
            self.frames_hint: int | None = len(self.files)
            return
        av = _av()
        name = quoted(self.path)
        if not os.path.exists(self.path):
            raise InstyleError(f"cannot read video {name}: no such file")
        from ..files import open_regular

        open_regular(self.path, lambda reason: InstyleError(f"cannot read video {name}: {reason}")).close()
        try:
            container = av.open(self.path, metadata_errors="ignore")
        except Exception:
            raise InstyleError(f"cannot read video {name}: not a video file, or corrupt or truncated") from None
        try:
            videos = [s for s in container.streams.video]
            if not videos:
                what = " (it is an audio file)" if container.streams.audio else ""
                raise InstyleError(f"cannot read video {name}: it has no video stream{what}")
            stream = videos[0]
            if stream.codec_context is None or not stream.codec_context.name:
                raise InstyleError(f"cannot read video {name}: its video codec is not supported")
            if _still(container, stream):
                raise InstyleError(
                    f"cannot read video {name}: it is a still image (or an animation FFmpeg cannot decode), not a "
                    "video; use `instyle stylize`"
                )
            rate = stream.average_rate or stream.guessed_rate or Fraction(int(DEFAULT_FPS))
            self.fps = float(rate)
            self.time_base = stream.time_base
            self.width, self.height = stream.codec_context.width, stream.codec_context.height
            self.audio_codecs = [a.codec_context.name for a in container.streams.audio]
            self.subtitle_codecs = [
                t.codec_context.name if t.codec_context else "" for t in container.streams.subtitles
            ]
            self.audio_codec = self.audio_codecs[0] if self.audio_codecs else None
            # data streams (chapters, GPS, timecodes) no output keeps; subtitles and audio after the
            # first are kept where the container takes their codec (VideoSink)
            kinds = [s.type for s in container.streams if s.type == "data"]
            self.extra_streams = {k: kinds.count(k) for k in dict.fromkeys(kinds)}
            if container.format.name == "mpegts" and _cut_mid_packet(self.path):
                raise InstyleError(f"cannot read video {name}: truncated: it ends inside a transport-stream packet")
            total, self._exact = _header_duration(container, stream)
            self.origin = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
            length = max(0.0, (total or 0.0) - self.start) if total else None
            if self.duration is not None and length is not None:
                length = min(length, self.duration)
            self.length = length  # seconds the header promises for the segment (None: unknown)
            self.frames_hint = round(length * self.fps) if length else None
        finally:
            container.close()

    def _first_size(self):
        from ..imageio import read_array

        return read_array(self.files[0], max_size=self.max_size).size

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the frames it yields (``max_size`` applied)."""
        return self._size(self.width, self.height)

    def _size(self, w: int, h: int):
        if self.max_size and max(w, h) > self.max_size:
            return target_size(w, h, self.max_size)
        return w, h

    def frames(self) -> Iterator[Frame]:
        """The segment's frames, in order (an error mid-file is one InstyleError line)."""
        if self.folder:
            yield from self._folder_frames()
            return
        yield from self._file_frames()

    def _folder_frames(self) -> Iterator[Frame]:
        from ..imageio import read_array

        first = int(np.ceil(self.start * self.fps - 1e-9))
        last = (
            len(self.files) if self.duration is None else min(len(self.files), first + round(self.duration * self.fps))
        )
        for i, path in enumerate(self.files[first:last]):
            rgb = read_array(path, max_size=self.max_size).rgb
            if i and rgb.shape[:2] != (self.height, self.width):
                raise InstyleError(
                    f"{quoted(str(path))} is {rgb.shape[1]}x{rgb.shape[0]}, the frames before it "
                    f"{self.width}x{self.height}: every frame of a folder must have one size"
                )
            yield Frame(rgb=rgb, time=i / self.fps, index=i)

    def _file_frames(self) -> Iterator[Frame]:
        av = _av()
        name = quoted(self.path)
        container = av.open(self.path, metadata_errors="ignore")
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            begin = self.origin + self.start
            if self.start:
                container.seek(int(begin / stream.time_base), stream=stream, backward=True, any_frame=False)
            end = begin + self.duration if self.duration is not None else None
            index, t, ended = 0, 0.0, True
            clock = _Clock(1.0 / self.fps)
            try:
                for frame in container.decode(stream):
                    t = clock(float(frame.pts * stream.time_base) if frame.pts is not None else index / self.fps)
                    if t < begin - 1e-6:
                        continue
                    if end is not None and t >= end - 1e-6:
                        ended = False
                        break
                    yield Frame(rgb=self._rgb(frame), time=t - begin, index=index, key=bool(frame.key_frame))
                    index += 1
            except av.error.FFmpegError as exc:
                raise InstyleError(
                    f"cannot read video {name}: corrupt or truncated at frame {index} ({one_line(exc)})"
                ) from None
            if index == 0:
                raise InstyleError(
                    f"cannot read video {name}: it has no frames"
                    + (" in the segment asked for" if self.start or self.duration else "")
                )
            if ended:
                self._check_complete(t - begin + 1.0 / self.fps)
        finally:
            container.close()

    def _check_complete(self, got: float) -> None:
        """Refuse a file whose frames end well before the length its header gives (a download or
        copy cut short: the demuxer just stops, and frame-threaded decoding drops its last error).
        MPEG-TS has no length in its header (see _cut_mid_packet for what tells a cut TS)."""
        if not self.length:
            return
        # a stream's own duration is exact to a frame or two; the container's may include audio
        # that runs on past the last picture
        slack = max(3.0 / self.fps, 0.25) if self._exact else max(1.0, 0.1 * self.length)
        if got < self.length - slack:
            raise InstyleError(
                f"cannot read video {quoted(self.path)}: truncated: its frames end at {got:.2f} s of the "
                f"{self.length:.2f} s its header gives"
            )

    def _rgb(self, frame) -> np.ndarray:
        """(H, W, 3) float32 upright, at most ``max_size``; a frame whose size differs from the
        stream's (a clip joined from two) is scaled to it, as FFmpeg does, with a warning."""
        w, h = self._size(self.width, self.height)
        if (frame.width, frame.height) != (self.width, self.height) and not self._warned_size:
            self._warned_size = True
            warnings.warn(
                f"{quoted(self.path)} changes its frame size mid-stream ({self.width}x{self.height} to "
                f"{frame.width}x{frame.height}); such frames are scaled to {self.width}x{self.height}",
                InstyleWarning,
                stacklevel=2,
            )
        if (w, h) != (frame.width, frame.height):
            frame = frame.reformat(width=w, height=h, interpolation="AREA")
        rgb = frame.to_ndarray(format="rgb24")  # (H, W, 3) uint8
        turns = (-int(getattr(frame, "rotation", 0) or 0) // 90) % 4  # rotation: degrees counter-clockwise
        if turns:
            rgb = np.rot90(rgb, k=(4 - turns) % 4)
        return np.ascontiguousarray(rgb, dtype=np.float32) / np.float32(255.0)


class _Clock:
    """Frame or packet times made to run forward: where a stream's times start again (files
    joined with ``cat a.ts b.ts``), the later part is shifted to follow on one ``step`` after the
    time before it, so the output plays through instead of its muxer refusing the times."""

    def __init__(self, step: float):
        self.step, self.shift = step, 0.0
        self.last: float | None = None

    def __call__(self, t: float) -> float:
        t += self.shift
        if self.last is not None and t < self.last + 1e-6:  # not after the time before: a restart
            self.shift += self.last + self.step - t
            t = self.last + self.step
        self.last = t
        return t


def _cut_mid_packet(path: str) -> bool:
    """Whether an MPEG transport stream ends inside a packet: TS files are whole 188-byte packets
    (M2TS: 192), so a download or copy cut at any other byte leaves a remainder. (TS has no length
    in its header; a cut exactly between packets cannot be told from a shorter clip.)"""
    try:
        size = os.path.getsize(path)
    except OSError:
        return False
    return size % 188 != 0 and size % 192 != 0


def _header_duration(container, stream) -> tuple[float | None, bool]:
    """(seconds, exact) the file's header gives for its video: the stream's own duration (MP4,
    MOV; Matroska's DURATION tag) is exact, the container's (the longest stream) is not; (None, False)
    when there is none (MPEG-TS, where FFmpeg guesses from the file's size)."""
    if stream.duration:
        return float(stream.duration * stream.time_base), True
    meta = stream.metadata or {}
    tag = meta.get("DURATION") or meta.get("duration")
    if tag:
        try:
            h, m, sec = tag.split(":")
            return int(h) * 3600 + int(m) * 60 + float(sec), True
        except ValueError:
            pass
    if container.duration and container.format.name != "mpegts":
        return float(container.duration) / 1e6, False
    return None, False


def _still(container, stream) -> bool:
    """Whether an image format (PNG, JPEG, GIF, …, FFmpeg's ``image2`` and ``*_pipe`` demuxers) holds
    a single frame: an animation (GIF, APNG) is a video, a photo is not."""
    if not (container.format.name in ("image2", "gif", "apng") or container.format.name.endswith("_pipe")):
        return False
    frames = 0
    try:
        for _ in container.decode(stream):
            frames += 1
            if frames > 1:
                break
    except Exception:
        return True
    return frames <= 1  # (the caller reopens the file to read it)


class VideoSink:
    """Writes frames as a video file (atomically) or a folder of PNGs.

    Args:
        path: the output file (.mp4, .mkv, .mov, .webm) or a folder (ends with a separator, or
            exists as one) for PNG frames.
        source: the input, whose frame times, size and audio the output keeps.
        codec, crf: the video codec (:data:`~instyle.choices.VIDEO_CODECS`; None: the container's
            default, :data:`~instyle.choices.VIDEO_CONTAINERS`) and its quality (lower: better and
            larger; x264's 18 is visually lossless).
        pix_fmt: :data:`~instyle.choices.VIDEO_PIXEL_FORMATS`: ``yuv420p`` (plays everywhere; its
            colour planes are low-passed before they are halved, :mod:`instyle.video.chroma`) or
            ``yuv444p`` (colour at full resolution; not with ``mpeg4``).
        overwrite: replace an existing output.
        segment: a part of a longer video for :meth:`append_encoded` to join (a file, video only: no
            audio or subtitles, and each frame's packet in frame order, x264 without B-frames, so
            joined parts keep their decoding times rising).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        source: VideoSource,
        *,
        codec: str | None = None,
        crf: int = 18,
        pix_fmt: str = DEFAULT_VIDEO_PIXEL_FORMAT,
        overwrite: bool = False,
        segment: bool = False,
    ):
        self.path = Path(os.fsdecode(os.fspath(path)))
        self.segment = segment
        self.folder = str(path).endswith(os.sep) or self.path.is_dir()
        suffix = self.path.suffix.lower()
        if codec is None:
            codec = VIDEO_CONTAINERS.get(suffix, VIDEO_CODECS)[0]
        self.source, self.codec, self.crf, self.pix_fmt, self.overwrite = source, codec, crf, pix_fmt, overwrite
        self.count = 0
        self.audio_mode = "none"  # or "copied", "re-encoded to aac" (the codec's name)
        # PyAV's output container and video stream (av is imported lazily, untyped here: _av())
        self._container: Any = None
        self._stream: Any = None
        self._audio: list[_TrackCopier] | None = None
        self._tmp: Path | None = None
        self._made: Path | None = None
        self._joined: bytes | None = None  # append_encoded: the codec header of the parts joined
        check(codec, VIDEO_CODECS, "codec", UsageError)
        check(pix_fmt, VIDEO_PIXEL_FORMATS, "pixel format", UsageError)
        if pix_fmt != "yuv420p" and codec == "mpeg4":
            raise OptionError(
                f"the mpeg4 codec writes yuv420p only; use {{codec}} for {pix_fmt}",
                codec=('codec="libx264" or "libvpx-vp9"', "--codec libx264 or libvpx-vp9"),
            )
        if self.folder:
            if self.path.exists() and any(self.path.glob("frame_*.png")) and not overwrite:
                raise exists_error(f"{self.path} already holds frames", them=True)
            return
        if suffix not in VIDEO_CONTAINERS:
            raise UsageError(
                f"cannot write video {quoted(str(self.path))}: use {', '.join(VIDEO_CONTAINERS)}, or "
                "a folder (ending in /) for PNG frames"
            )
        if codec not in VIDEO_CONTAINERS[suffix]:  # checked before any work: the muxer refuses it at the end
            fits = VIDEO_CONTAINERS[suffix]
            raise OptionError(
                f"a {suffix} file cannot hold {codec} video; use {{codec}}",
                codec=(" or ".join(f"codec={c!r}" for c in fits), "--codec " + " or ".join(fits)),
            )
        if self.path.exists() and not overwrite:
            raise exists_error(f"{self.path} already exists", exit_code=2)
        # every audio track is kept: the first copied or re-encoded, the others where the container
        # takes their codec as they are
        copyable = CONTAINER_AUDIO[suffix][0]
        self._tracks = [0] + [k for k, c in enumerate(source.audio_codecs) if k and (copyable is None or c in copyable)]
        takes = CONTAINER_SUBTITLES[suffix]  # subtitles: copied where the container takes their codec
        self._subtitle_tracks = [k for k, c in enumerate(source.subtitle_codecs) if takes is None or c in takes]
        left = dict(source.extra_streams)
        if len(source.subtitle_codecs) > len(self._subtitle_tracks):
            left = {"subtitle": len(source.subtitle_codecs) - len(self._subtitle_tracks), **left}
        if len(source.audio_codecs) > len(self._tracks):
            left = {"audio": len(source.audio_codecs) - len(self._tracks), **left}
        if left and not segment:
            what = ", ".join(f"{n} {kind} stream{'s' if n > 1 else ''}" for kind, n in left.items())
            warnings.warn(
                f"{quoted(source.path)} has streams a {suffix} file cannot take from it: {what} left out",
                InstyleWarning,
                stacklevel=2,
            )

    def _open(self, width: int, height: int) -> None:
        """The encoder, on a hidden temporary file next to the destination (made at the first frame,
        so a command that fails before it leaves nothing behind)."""
        container = self._open_file()
        rate = Fraction(self.source.fps).limit_denominator(1001)
        stream = container.add_stream(self.codec, rate=rate)
        even = self.pix_fmt == "yuv420p"  # 4:2:0: even sides (edge-padded)
        stream.width, stream.height = (width + width % 2, height + height % 2) if even else (width, height)
        stream.pix_fmt = self.pix_fmt
        stream.time_base = stream.codec_context.time_base = self._codec_time_base()
        if self.codec == "libx264":
            stream.options = {"crf": str(self.crf), "preset": "veryfast"}
            if self.segment:  # no B-frames: packets in frame order, decoding times = frame times
                stream.options["bf"] = "0"
        elif self.codec == "libvpx-vp9":
            stream.options = {"crf": str(self.crf), "b": "0", "deadline": "realtime", "cpu-used": "8"}
        else:
            stream.options = {"qscale": str(max(1, min(31, self.crf // 2)))}
        self._stream = stream
        # Frame times are counted in the encoder's time base, kept apart from the stream's: MP4/MOV
        # muxers replace stream.time_base when the header is written (1/1000 -> 1/16000), and pts
        # computed with the new one after that are off by that factor (issue 30).
        self._time_base = stream.codec_context.time_base
        self._open_tracks()

    def _codec_time_base(self) -> Fraction:
        """Frame times in the input's own time base (a variable frame rate is kept as it is);
        MPEG-4 part 2 caps the denominator at 65535 (2^16 - 1), so 1/90000 becomes 1/60000."""
        tb = Fraction(1, 90000) if self.source.folder else Fraction(self.source.time_base)
        if self.codec == "mpeg4" and tb.denominator > 65535:
            tb = Fraction(1, 60000)
        return tb

    def _open_file(self):
        """The output container on a hidden temporary file next to the destination."""
        av = _av()
        self._made = first_missing(self.path.parent)  # folders this sink creates (removed again by abort)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            prefix = temp_prefix(self.path.parent, self.path.name)
            fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=self.path.suffix.lower(), dir=self.path.parent)
            os.close(fd)
        except OSError as exc:
            raise InstyleError(
                f"cannot write video {quoted(str(self.path))}: {one_line(exc.strerror or exc)}"
            ) from None
        self._tmp = Path(tmp)
        self._container = av.open(str(self._tmp), "w")
        return self._container

    def _open_tracks(self) -> None:
        """The source's audio and subtitle tracks, muxed alongside the video as it is written."""
        container, suffix = self._container, self.path.suffix.lower()
        if self.segment:
            return
        if self.source.has_audio and not self.source.folder:
            self._audio = [_TrackCopier(self.source, container, suffix, k) for k in self._tracks]
            self.audio_mode = "copied" if self._audio[0].copy else f"re-encoded to {CONTAINER_AUDIO[suffix][1]}"
        if not self.source.folder:
            self._audio = (self._audio or []) + [
                _TrackCopier(self.source, container, suffix, k, kind="subtitle") for k in self._subtitle_tracks
            ]

    def write(self, frame: Frame, rgb: np.ndarray) -> None:
        """Write ``rgb`` (H, W, 3) in [0, 1] at ``frame``'s time."""
        if self.folder:
            from ..imageio import save_image

            if self._tmp is None:  # frames go to a hidden folder beside the destination, moved in by close()
                parent = self.path.parent
                self._made = first_missing(parent)
                try:
                    parent.mkdir(parents=True, exist_ok=True)
                    self._tmp = Path(
                        tempfile.mkdtemp(prefix=temp_prefix(parent, self.path.name), suffix=".d", dir=parent)
                    )
                except OSError as exc:
                    raise InstyleError(
                        f"cannot write frames to {quoted(str(self.path))}: {one_line(exc.strerror or exc)}"
                    ) from None
            save_image(self._tmp / f"frame_{frame.index + 1:06d}.png", rgb)
            self.count += 1
            return
        av = _av()
        if self._container is None:
            self._open(rgb.shape[1], rgb.shape[0])
        h, w = self._stream.height, self._stream.width
        if rgb.shape[:2] != (h, w):  # an odd side: its last row / column repeated
            rgb = np.pad(rgb, ((0, h - rgb.shape[0]), (0, w - rgb.shape[1]), (0, 0)), mode="edge")
        rgb = np.clip(rgb, 0.0, 1.0)
        if self.pix_fmt == "yuv420p":  # colour planes low-passed before they are halved (no shimmer)
            out = av.VideoFrame.from_ndarray(rgb_to_yuv420(rgb), format="yuv420p")
        else:
            data = np.round(rgb * np.float32(255.0)).astype(np.uint8)
            out = av.VideoFrame.from_ndarray(np.ascontiguousarray(data), format="rgb24")
        out.pts = round(frame.time / self._time_base)
        try:
            for audio in self._audio or ():
                audio.until(frame.time)
            for packet in self._stream.encode(out):
                self._container.mux(packet)
        except OSError as exc:  # FFmpeg's errors are OSErrors naming the hidden temporary file
            raise self._error(exc) from None
        self.count += 1

    def append_encoded(self, part: str | os.PathLike, times) -> None:
        """Append the frames of ``part``, a file an earlier sink wrote with ``segment=True`` and this
        sink's codec settings, at ``times`` (seconds into the output, one per frame, rising), packet by
        packet: no re-encoding. The source's audio and subtitles are muxed alongside as by :meth:`write`,
        so a video stylized in parts (``instyle video --ray``) is joined with its sound and frame times."""
        av = _av()
        name = quoted(os.fspath(part))
        try:
            src = av.open(os.fspath(part), metadata_errors="ignore")
        except Exception:
            raise InstyleError(f"cannot join part {name}: not a video file") from None
        with src:
            istream = src.streams.video[0]
            header = bytes(istream.codec_context.extradata or b"")
            if self._container is None:
                container = self._open_file()
                self._stream = container.add_stream_from_template(istream)
                self._stream.time_base = self._time_base = self._codec_time_base()
                self._joined = header
                self._open_tracks()
            elif header != self._joined:  # a decoder reads one header for the whole stream
                raise InstyleError(f"cannot join part {name}: its codec header differs from the first part's")
            k = 0
            try:
                for packet in src.demux(istream):
                    if not packet.size:  # the demuxer's end-of-stream marker
                        continue
                    if k >= len(times):
                        k += 1
                        continue
                    t = float(times[k])
                    duration = packet.duration * packet.time_base if packet.duration else 0
                    for audio in self._audio or ():
                        audio.until(t)
                    packet.stream = self._stream
                    packet.time_base = self._time_base
                    packet.pts = packet.dts = round(t / self._time_base)
                    packet.duration = round(duration / self._time_base)
                    self._container.mux(packet)
                    k += 1
                    self.count += 1
            except OSError as exc:
                raise self._error(exc) from None
            if k != len(times):
                raise InstyleError(f"cannot join part {name}: it does not hold {len(times)} frames, one packet each")

    def _error(self, exc: OSError) -> InstyleError:
        """An encoder or disk error as one line about the destination, not the temporary file."""
        return InstyleError(f"cannot write video {quoted(str(self.path))}: {one_line(exc.strerror or exc)}")

    def close(self) -> Path | None:
        """Finish the file and move it into place; returns its path (None for a folder)."""
        if self.folder:
            self._close_folder()
            return None
        if self._container is None:
            self.abort()
            raise InstyleError("no frames were written")
        try:
            if self._joined is None:  # (parts joined by append_encoded have no encoder to flush)
                for packet in self._stream.encode():
                    self._container.mux(packet)
            for audio in self._audio or ():
                audio.until(float("inf"))
                audio.close()
            self._container.close()
        except OSError as exc:
            raise self._error(exc) from None
        self._container = None
        if self.path.exists() and not self.overwrite:
            self.abort()
            raise exists_error(f"{self.path} already exists")
        assert self._tmp is not None  # _open() made it with the container
        try:
            os.chmod(self._tmp, file_mode(self.path))  # mkstemp made it 0600
        except OSError:
            pass
        os.replace(self._tmp, self.path)
        self._tmp = None
        return self.path

    def _close_folder(self) -> None:
        """Move the finished frames into the destination: the whole folder at once where it did not
        exist (or was empty); else the old run's frames are removed first (--overwrite), so a
        shorter clip never leaves a longer one's last frames behind."""
        if self._tmp is None:
            return
        tmp, self._tmp = self._tmp, None
        try:
            os.chmod(tmp, folder_mode())  # mkdtemp makes it 0700
            if self.path.is_dir() and not any(self.path.iterdir()):
                self.path.rmdir()
            if not self.path.exists():
                os.rename(tmp, self.path)
                self._made = None
                return
            old = sorted(self.path.glob("frame_*.png"))
            if old and not self.overwrite:
                raise exists_error(f"{self.path} already holds frames", them=True)
            for f in old:
                f.unlink()
            for f in sorted(tmp.iterdir()):
                os.replace(f, self.path / f.name)
        except OSError as exc:
            raise InstyleError(
                f"cannot write frames to {quoted(str(self.path))}: {one_line(exc.strerror or exc)}"
            ) from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self._made = None

    def abort(self) -> None:
        """Drop a half-written file (after an error or Ctrl-C)."""
        for closable in (*(self._audio or ()), self._container):
            try:
                if closable is not None:
                    closable.close()
            except Exception:
                pass
        self._audio = self._container = None
        if self._tmp is not None:
            if self._tmp.is_dir():
                shutil.rmtree(self._tmp, ignore_errors=True)
            else:
                self._tmp.unlink(missing_ok=True)
            self._tmp = None
        if self._made is not None:
            shutil.rmtree(self._made, ignore_errors=True)
            self._made = None


class _TrackCopier:
    """One audio or subtitle track of the source, trimmed to the segment, muxed alongside the video
    as it is written (so the muxer never holds more than a moment of either). Audio is copied packet
    by packet where the output container takes the codec (:data:`~instyle.choices.CONTAINER_AUDIO`),
    re-encoded to the codec it takes otherwise (AAC; Opus for WebM); subtitles are copied
    (:data:`~instyle.choices.CONTAINER_SUBTITLES` says which the container takes)."""

    def __init__(self, source: VideoSource, container, suffix: str, track: int = 0, *, kind: str = "audio"):
        av = _av()
        self.source, self.container = source, container
        self.input = av.open(source.path, metadata_errors="ignore")
        self.istream = (self.input.streams.audio if kind == "audio" else self.input.streams.subtitles)[track]
        self.begin = source.origin + source.start  # the video's first frame's time (s, in the file)
        if source.start:
            self.input.seek(int(self.begin / self.istream.time_base), stream=self.istream, backward=True)
        self.end = self.begin + source.duration if source.duration is not None else None
        copyable, fallback = CONTAINER_AUDIO[suffix] if kind == "audio" else (None, None)
        self.copy = copyable is None or self.istream.codec_context.name in copyable
        self.ostream: Any = None  # a PyAV stream (av is imported lazily, untyped here: _av())
        if self.copy:
            try:
                self.ostream = container.add_stream_from_template(self.istream)
            except Exception:
                self.copy = False
        if not self.copy and kind == "subtitle":  # checked against CONTAINER_SUBTITLES: not expected
            self.input.close()
            raise InstyleError(f"cannot copy subtitle track {track} of {quoted(source.path)} into a {suffix} file")
        if not self.copy:
            rate = self.istream.codec_context.sample_rate or 44100
            if fallback == "libopus":  # Opus runs at 48, 24, 16, 12 or 8 kHz only
                rate = 48000
            self.ostream = container.add_stream(fallback, rate=rate)
            fmt = self.ostream.codec_context.codec.audio_formats[0].name
            self.resampler = av.AudioResampler(format=fmt, layout="stereo", rate=rate)
        self.packets = self.input.demux(self.istream)
        step = 1024 / (self.istream.codec_context.sample_rate or 44100) if kind == "audio" else 1e-3  # ~ one AAC frame
        self.clock = _Clock(step)
        self.done = False

    def until(self, t: float) -> None:
        """Mux the audio up to time ``t`` (seconds into the segment)."""
        while not self.done:
            try:
                packet = next(self.packets)
            except StopIteration:
                self.done = True
                break
            if packet.pts is None:
                continue
            pt = self.clock(float(packet.pts * self.istream.time_base))
            if pt < self.begin - 1e-6:
                continue
            if self.end is not None and pt >= self.end:
                self.done = True
                break
            self._write(packet, pt)
            if pt - self.begin > t:
                break

    def _write(self, packet, pt: float) -> None:
        if self.copy:  # times counted from the video's first frame, run forward (_Clock)
            delay = packet.pts - packet.dts if packet.dts is not None else 0
            packet.pts = round((pt - self.begin) / self.istream.time_base)
            packet.dts = packet.pts - delay
            if packet.dts < 0:
                return
            packet.stream = self.ostream
            self.container.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None
            for resampled in self.resampler.resample(frame):
                for out in self.ostream.encode(resampled):
                    self.container.mux(out)

    def close(self) -> None:
        if not self.copy and self.ostream is not None:
            try:
                for out in self.ostream.encode(None):
                    self.container.mux(out)
            except Exception:
                pass
        self.input.close()
        self.ostream = None


def frame_times(path: str | os.PathLike) -> list[float]:
    """The presentation times (s) of a video file's frames (for tests and benchmarks)."""
    av = _av()
    with av.open(os.fspath(path)) as container:
        stream = container.streams.video[0]
        return [float(f.pts * stream.time_base) for f in container.decode(stream)]
