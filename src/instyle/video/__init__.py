"""Video: reading and writing clips as streams of frames, and stylizing them without flicker.

* :mod:`instyle.video.io`: :class:`VideoSource` and :class:`VideoSink` (PyAV: frame times,
  rotation, audio, segments; folders of images; atomic output);
* :mod:`instyle.video.stabilize`: shared statistics, optical-flow blending, scene cuts;
* :mod:`instyle.video.stylizer`: :class:`VideoStylizer`, the stream of frames in, stylized out.

Needs the ``video`` extra (``pip install 'instyle[video]'``: PyAV and OpenCV).
"""

from .io import Frame, VideoSink, VideoSource
from .stabilize import StabilizeConfig
from .stylizer import VideoStylizer, on_arrays

__all__ = ["Frame", "StabilizeConfig", "VideoSink", "VideoSource", "VideoStylizer", "on_arrays"]
