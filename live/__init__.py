"""DanceMuse live side: audio sources, the streaming engine, the onnxruntime generator,
OSC and WebSocket outputs, control input and the `dancemuse` CLI. Never imports torch."""

__version__ = "0.1.0"
