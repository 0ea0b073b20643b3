"""Minimal GGUF v3 writer and reader (little-endian, default alignment 32).

File layout (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md):
    magic "GGUF" | u32 version=3 | u64 n_tensors | u64 n_kv
    n_kv x  (string key, u32 value_type, value)
    n_tensors x (string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset)
    zero padding to `general.alignment`
    tensor data, each tensor starting at an aligned offset relative to the data start
A string is u64 byte length + UTF-8 bytes (no terminator). An array is
u32 element type + u64 count + elements.

Tensor shapes follow ggml: ne[0] is the contiguous (fastest varying) dimension, so
a row-major numpy array of shape (a, b) is written with ne = [b, a]. A PyTorch
Linear weight [out, in] therefore becomes ggml [in, out] with its bytes unchanged.

Only what the bundled models need is implemented: scalar/array metadata of every
GGUF type and F32 tensors. No dependency beyond numpy.
"""

import struct

import numpy as np

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
DEFAULT_ALIGNMENT = 32

# gguf_type
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = \
    range(13)

_SCALAR_FMT = {
    UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
    FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d",
}

# ggml_type ids used here
GGML_TYPE_F32 = 0


def _pad(n, align):
    return (align - n % align) % align


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


class GGUFWriter:
    """Collects metadata and F32 tensors, then writes one GGUF v3 file."""

    def __init__(self, alignment=DEFAULT_ALIGNMENT):
        self.alignment = alignment
        self.kv = []  # (key, type, value, elem_type)
        self.tensors = []  # (name, np.ndarray float32 C-contiguous)
        if alignment != DEFAULT_ALIGNMENT:
            self.add("general.alignment", UINT32, alignment)

    def add(self, key, vtype, value):
        if any(k == key for k, *_ in self.kv):
            raise ValueError(f"duplicate GGUF key {key}")
        self.kv.append((key, vtype, value, None))

    def add_array(self, key, elem_type, values):
        if any(k == key for k, *_ in self.kv):
            raise ValueError(f"duplicate GGUF key {key}")
        self.kv.append((key, ARRAY, list(values), elem_type))

    # typed helpers for readability at call sites
    def add_u32(self, key, v):
        self.add(key, UINT32, int(v))

    def add_f32(self, key, v):
        self.add(key, FLOAT32, float(v))

    def add_bool(self, key, v):
        self.add(key, BOOL, bool(v))

    def add_string(self, key, v):
        self.add(key, STRING, str(v))

    def add_tensor(self, name, array):
        a = np.ascontiguousarray(np.asarray(array, dtype=np.float32))
        if a.ndim < 1 or a.ndim > 4:
            raise ValueError(f"tensor {name}: {a.ndim} dims not supported")
        if any(n == name for n, _ in self.tensors):
            raise ValueError(f"duplicate tensor {name}")
        self.tensors.append((name, a))

    @staticmethod
    def _value(vtype, v):
        if vtype == STRING:
            return _str(v)
        return struct.pack(_SCALAR_FMT[vtype], v)

    def write(self, path):
        out = bytearray()
        out += GGUF_MAGIC
        out += struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.kv))
        for key, vtype, value, elem in self.kv:
            out += _str(key) + struct.pack("<I", vtype)
            if vtype == ARRAY:
                out += struct.pack("<IQ", elem, len(value))
                if elem == STRING:
                    for s in value:
                        out += _str(s)
                else:
                    out += np.asarray(value, dtype=np.dtype(_SCALAR_FMT[elem])).tobytes()
            else:
                out += self._value(vtype, value)
        offset = 0
        offsets = []
        for name, a in self.tensors:
            ne = list(reversed(a.shape))  # ggml ne[0] = innermost numpy axis
            out += _str(name) + struct.pack("<I", len(ne))
            out += struct.pack(f"<{len(ne)}Q", *ne)
            out += struct.pack("<IQ", GGML_TYPE_F32, offset)
            offsets.append(offset)
            offset += a.nbytes + _pad(a.nbytes, self.alignment)
        out += b"\0" * _pad(len(out), self.alignment)
        for (name, a), off in zip(self.tensors, offsets):
            out += a.astype("<f4").tobytes()
            out += b"\0" * _pad(a.nbytes, self.alignment)
        with open(path, "wb") as f:
            f.write(out)
        return len(out)


def read_gguf(path):
    """Parses a GGUF v3 file written above; returns (metadata dict, {name: np.ndarray}).

    Arrays come back in numpy order (shape = reversed ggml ne). Used to verify the
    export independently of the writer's in-memory state.
    """
    with open(path, "rb") as f:
        buf = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return vals if len(vals) > 1 else vals[0]

    def take_str():
        nonlocal pos
        n = take("<Q")
        s = buf[pos:pos + n].decode("utf-8")
        pos += n
        return s

    def take_value(t):
        if t == STRING:
            return take_str()
        if t == ARRAY:
            et, n = take("<IQ")
            return [take_value(et) for _ in range(n)]
        return take(_SCALAR_FMT[t])

    if buf[:4] != GGUF_MAGIC:
        raise ValueError(f"{path}: bad magic {buf[:4]!r}")
    pos = 4
    version, n_tensors, n_kv = take("<IQQ")
    if version != GGUF_VERSION:
        raise ValueError(f"{path}: version {version}, expected {GGUF_VERSION}")
    meta = {}
    for _ in range(n_kv):
        key = take_str()
        meta[key] = take_value(take("<I"))
    align = meta.get("general.alignment", DEFAULT_ALIGNMENT)
    infos = []
    for _ in range(n_tensors):
        name = take_str()
        nd = take("<I")
        ne = [take("<Q") for _ in range(nd)]
        ttype, off = take("<IQ")
        if ttype != GGML_TYPE_F32:
            raise ValueError(f"{name}: ggml type {ttype} not supported by this reader")
        infos.append((name, ne, off))
    data_start = pos + _pad(pos, align)
    tensors = {}
    for name, ne, off in infos:
        if off % align:
            raise ValueError(f"{name}: offset {off} not aligned to {align}")
        n = int(np.prod(ne))
        start = data_start + off
        if start + 4 * n > len(buf):
            raise ValueError(f"{name}: data runs past end of file")
        tensors[name] = np.frombuffer(buf, dtype="<f4", count=n, offset=start).reshape(
            list(reversed(ne))).copy()
    return meta, tensors
