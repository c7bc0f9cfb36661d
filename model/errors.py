"""One small exception hierarchy. Every message is one readable line that names the input
and says what to do; the CLI prints it without a traceback (``--debug`` shows one)."""

from __future__ import annotations


class DanceMuseError(Exception):
    """Base class: an error a user can cause and fix."""


class ConfigError(DanceMuseError):
    """A configuration file, key or flag is wrong."""


class AudioError(DanceMuseError):
    """An audio file or device cannot be used."""


class DeviceError(AudioError):
    """An audio device is missing, busy or disappeared."""


class ModelError(DanceMuseError):
    """A model file is missing, corrupt or incompatible with the configuration."""


class DatasetError(DanceMuseError):
    """A dataset folder, manifest or clip is invalid."""


class ProtocolError(DanceMuseError):
    """A malformed or invalid OSC/WebSocket message."""
