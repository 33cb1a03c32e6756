"""What the tasks trained on one folder of content photos share (fast networks, distillation):
the data stream and the photos shown in the sample grids."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from ..data import CropSpec, ImageFolder


class ContentFolderTask:
    """Mixin for a :class:`instyle.train.loop.Task` whose only stream is ``self.content_dir``
    (a folder of photos); ``self.n_samples`` of them are shown in the sample grids."""

    content_dir: str
    n_samples: int
    _folder: ImageFolder | None = None
    _previews: list[Tensor] | None = None

    def streams(self, spec: CropSpec) -> Mapping[str, ImageFolder]:
        self._folder = ImageFolder(self.content_dir, spec, name="content")
        return {"content": self._folder}

    def preview_images(self) -> list[Tensor]:
        """Up to ``n_samples`` photos of the folder, each (1, 3, h, w), read once (empty before
        :meth:`streams` or when none is readable)."""
        if not self._previews and self._folder is not None:
            self._previews = self._folder.preview(self.n_samples)
        return self._previews or []
