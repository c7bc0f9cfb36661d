"""int8 dynamic quantisation of an exported step model (onnxruntime.quantization).

Weights of MatMul/Gemm (and LSTM) become int8; activations are quantised on the fly. The
metadata document is copied over unchanged (plus ``"quantized": "int8-dynamic"``), so the
runtime loads the result exactly like the fp32 model.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from model import modelmeta


def quantize_int8(src: str | Path, dst: str | Path) -> Path:
    """Write the dynamically int8-quantised version of ``src`` to ``dst``."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = Path(src), Path(dst)
    logging.getLogger("root").setLevel(logging.ERROR)  # the quantiser logs a pre-processing hint
    # the exported graph is already optimised by onnxruntime (contrib ops such as
    # SkipLayerNormalization): tell the quantiser that untyped tensors are float
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    props = {p.key: p.value for p in onnx.load(str(src), load_external_data=False).metadata_props}
    model = onnx.load(str(dst))
    if modelmeta.META_KEY in props:
        meta = json.loads(props[modelmeta.META_KEY])
        meta["quantized"] = "int8-dynamic"
        props[modelmeta.META_KEY] = modelmeta.dumps(meta)
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, props)
    onnx.save(model, str(dst))
    return dst
