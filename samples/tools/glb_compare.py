"""Compares two .glb files by the scene they hold, not by their bytes.

Blender's glTF exporter is not byte-for-byte stable: from run to run it may write a smooth mesh's vertices in another
order, meshes' accessors in another order, and vertex values a unit in the last place apart. To tell whether a
changed sample script still builds the same scene, this replaces every accessor that a mesh, skin or animation names
by its values, turns each primitive's triangles into a sorted list of corners (every attribute and morph target of
the corner's vertex, the winding kept), and compares the rest of the glTF JSON (nodes, cameras, lights, materials,
textures, embedded images) exactly. Vertex values may differ by at most --tolerance.

Usage (plain Python 3, no Blender):

    python3 samples/tools/glb_compare.py A.glb B.glb [--tolerance 1e-6]

Exits 0 when the scenes agree, 1 when they do not (saying where), 2 on a file it cannot read.
"""

import argparse
import copy
import hashlib
import json
import struct
import sys

COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
FORMATS = {5120: "b", 5121: "B", 5122: "h", 5123: "H", 5125: "I", 5126: "f"}
JSON_CHUNK = 0x4E4F534A
BIN_CHUNK = 0x004E4942


def read_glb(path):
    """The glTF JSON and the binary chunk of a .glb."""
    with open(path, "rb") as f:
        data = f.read()
    magic, _, length = struct.unpack_from("<4sII", data, 0)
    if magic != b"glTF" or length > len(data):
        raise ValueError(f"{path} is not a binary glTF file")
    offset, doc, binary = 12, None, b""
    while offset + 8 <= length:
        size, kind = struct.unpack_from("<II", data, offset)
        chunk = data[offset + 8:offset + 8 + size]
        if kind == JSON_CHUNK:
            doc = json.loads(chunk)
        elif kind == BIN_CHUNK:
            binary = chunk
        offset += 8 + size
    if doc is None:
        raise ValueError(f"{path} has no JSON chunk")
    return doc, binary


def accessor_values(doc, binary, index):
    """An accessor's elements: numbers for SCALAR, tuples otherwise."""
    accessor = doc["accessors"][index]
    view = doc["bufferViews"][accessor["bufferView"]]
    count, fmt = COMPONENTS[accessor["type"]], FORMATS[accessor["componentType"]]
    stride = view.get("byteStride", count * struct.calcsize(fmt))
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    out = []
    for i in range(accessor["count"]):
        element = struct.unpack_from("<" + fmt * count, binary, start + i * stride)
        out.append(element if count > 1 else element[0])
    return out


def canonical(path):
    """The glTF JSON with accessors, buffer views and buffers replaced by what they hold."""
    doc, binary = read_glb(path)
    scene = copy.deepcopy(doc)

    def accessor(index):
        a = doc["accessors"][index]
        return {"type": a["type"], "componentType": a["componentType"], "values": accessor_values(doc, binary, index)}

    for m, mesh in enumerate(scene.get("meshes", [])):
        for p, primitive in enumerate(mesh["primitives"]):
            source = doc["meshes"][m]["primitives"][p]
            names = sorted(source["attributes"])
            columns = [accessor_values(doc, binary, source["attributes"][n]) for n in names]
            targets = [[accessor_values(doc, binary, t[n]) for n in sorted(t)] for t in source.get("targets", [])]
            vertices = len(columns[0]) if columns else 0
            indices = accessor_values(doc, binary, source["indices"]) if "indices" in source else list(range(vertices))

            def corner(v):
                return (tuple(column[v] for column in columns), tuple(tuple(t[v] for t in target) for target in targets))

            triangles = []
            for t in range(0, len(indices) - 2, 3):
                tri = [corner(indices[t + j]) for j in range(3)]
                first = tri.index(min(tri))  # a rotation keeps the winding
                triangles.append(tuple(tri[first:] + tri[:first]))
            primitive["attributes"] = names
            primitive["targets"] = [sorted(t) for t in source.get("targets", [])]
            primitive.pop("indices", None)
            primitive["vertexCount"] = vertices
            primitive["triangles"] = triangles
    for skin in scene.get("skins", []):
        if "inverseBindMatrices" in skin:
            skin["inverseBindMatrices"] = accessor(skin["inverseBindMatrices"])
    for animation in scene.get("animations", []):
        for sampler in animation["samplers"]:
            sampler["input"] = accessor(sampler["input"])
            sampler["output"] = accessor(sampler["output"])
    for image in scene.get("images", []):
        if "bufferView" in image:
            view = doc["bufferViews"][image["bufferView"]]
            start = view.get("byteOffset", 0)
            image["bufferView"] = hashlib.sha256(binary[start:start + view["byteLength"]]).hexdigest()
    for key in ("accessors", "bufferViews", "buffers"):
        scene.pop(key, None)
    return scene


def numbers(value):
    if isinstance(value, (tuple, list)):
        for item in value:
            yield from numbers(item)
    else:
        yield value


def rounded(value):
    """The sort key of a triangle: its values rounded, so that last-place noise does not reorder the list."""
    return tuple(rounded(v) for v in value) if isinstance(value, (tuple, list)) else round(value, 4) + 0.0


def compare(a, b, tolerance):
    """The differences between two canonical scenes, and the largest vertex value difference."""
    problems = []
    for key in sorted(set(a) | set(b)):
        if key != "meshes" and a.get(key) != b.get(key):
            problems.append(f"'{key}' differs")
    meshes_a, meshes_b = a.get("meshes", []), b.get("meshes", [])
    if len(meshes_a) != len(meshes_b):
        problems.append(f"{len(meshes_a)} meshes against {len(meshes_b)}")
    worst = 0.0
    for mesh_a, mesh_b in zip(meshes_a, meshes_b):
        name = mesh_a.get("name", "?")
        if {k: v for k, v in mesh_a.items() if k != "primitives"} != {k: v for k, v in mesh_b.items() if k != "primitives"}:
            problems.append(f"mesh {name}: its fields differ")
        if len(mesh_a["primitives"]) != len(mesh_b["primitives"]):
            problems.append(f"mesh {name}: another number of primitives")
        for p, (prim_a, prim_b) in enumerate(zip(mesh_a["primitives"], mesh_b["primitives"])):
            if {k: v for k, v in prim_a.items() if k != "triangles"} != {k: v for k, v in prim_b.items() if k != "triangles"}:
                problems.append(f"mesh {name} primitive {p}: its fields differ")
            tris_a, tris_b = sorted(prim_a["triangles"], key=rounded), sorted(prim_b["triangles"], key=rounded)
            if len(tris_a) != len(tris_b):
                problems.append(f"mesh {name} primitive {p}: {len(tris_a)} triangles against {len(tris_b)}")
                continue
            for tri_a, tri_b in zip(tris_a, tris_b):
                for x, y in zip(numbers(tri_a), numbers(tri_b)):
                    worst = max(worst, abs(x - y))
            if worst > tolerance:
                problems.append(f"mesh {name} primitive {p}: vertex values differ by up to {worst:.3g}")
    return problems, worst


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--tolerance", type=float, default=1e-6, help="largest vertex value difference (default: %(default)s)")
    args = parser.parse_args()
    try:
        a, b = canonical(args.a), canonical(args.b)
    except (OSError, ValueError, KeyError, struct.error) as e:
        print(f"cannot read: {e}", file=sys.stderr)
        return 2
    problems, worst = compare(a, b, args.tolerance)
    for problem in problems:
        print(problem)
    print(f"{'same scene' if not problems else 'different scenes'}; largest vertex value difference {worst:.3g}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
