"""Settings that document themselves: a dataclass field made with :func:`setting` carries
its help, choices, the group of CLI sub-commands that take it and its flag name, so the CLI
builds its flags from the configuration classes themselves (:class:`xai_gan.config.RunConfig`
and the GAN's :class:`xai_gan.gan.TrainConfig` inside it)."""
from __future__ import annotations

from dataclasses import field

NO_FLAG = "none"  # the group of a field the CLI does not expose


def setting(default=None, help: str = "", *, choices=None, group: str | None = None,
            flag: str | None = None, factory=None, profile: bool = False):
    """A dataclass field with what its CLI flag needs: ``help``, ``choices``, ``group``
    (which sub-commands take it; None: all, :data:`NO_FLAG`: none), ``flag`` (default:
    ``--`` and the field's name with dashes) and ``profile`` (the run's profile sets the
    default, not the field)."""
    meta = {"help": help, "choices": choices, "group": group, "flag": flag,
            "profile": profile}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)
