"""Build the RenderFarm materials sample and export it as glTF binary.

Usage (from the repository root):

    blender -b --factory-startup --python-exit-code 1 \
        -P samples/materials/make_materials.py -- [--out samples/materials/materials.glb]

Scene (glTF coordinates, +Y up): a 4 x 4 grey floor and a grey back wall, lit only by a 1 x 1
emissive quad (strength 15) 2.5 units above the floor. In front of the wall, in a row from left to
right: a glass sphere (KHR_materials_transmission 1, KHR_materials_ior 1.5, KHR_materials_volume with
thickness 0.8 and amber attenuation: colour (0.9, 0.5, 0.25) over 0.5 units), a red sphere with a
glossy clearcoat (KHR_materials_clearcoat 1, roughness 0.05) and a blue sphere with a pale sheen
(KHR_materials_sheen colour (1, 0.85, 0.85), roughness 0.5). Behind them stands a leaf-shaped quad
cut out by its texture's alpha (alphaMode MASK, cutoff 0.5), and in front on the right a pane of
half-transparent blue (alphaMode BLEND, alpha 0.5). Camera: perspective, yfov 40 deg, 1:1.
No animation (one frame).

Blender's exporter writes the geometry, textures and base materials; the KHR_materials extensions
and alpha modes are then written into the file's JSON here, so the file says exactly what it tests.
"""

import argparse
import json
import os
import struct
import sys

import bpy
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from blender_scene import camera, clear_scene, g2b, material, quad  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "materials.glb")
EMISSION_STRENGTH = 15.0
LEAF_SIZE = 64

# Extensions and alpha modes written into the exported JSON, by material name.
MATERIAL_PATCHES = {
    "Glass": {
        "extensions": {
            "KHR_materials_transmission": {"transmissionFactor": 1.0},
            "KHR_materials_ior": {"ior": 1.5},
            "KHR_materials_volume": {"thicknessFactor": 0.8, "attenuationColor": [0.9, 0.5, 0.25],
                                     "attenuationDistance": 0.5},
        },
    },
    "Clearcoat": {
        "extensions": {"KHR_materials_clearcoat": {"clearcoatFactor": 1.0, "clearcoatRoughnessFactor": 0.05}},
    },
    "Sheen": {
        "extensions": {"KHR_materials_sheen": {"sheenColorFactor": [1.0, 0.85, 0.85], "sheenRoughnessFactor": 0.5}},
    },
    "Leaf": {"alphaMode": "MASK", "alphaCutoff": 0.5},
    "Pane": {"alphaMode": "BLEND"},
}


def parse_args():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=DEFAULT_OUT, help="output .glb path (default: %(default)s)")
    return p.parse_args(argv)


def leaf_texture():
    """64x64 RGBA: a green leaf (an ellipse with a pointed tip) on alpha 0."""
    n = LEAF_SIZE
    y, x = np.mgrid[0:n, 0:n].astype(np.float32) / (n - 1)
    u = (x - 0.5) * 2.0
    v = (y - 0.5) * 2.0
    inside = (u / 0.95) ** 2 + (v / (0.55 * (1.0 - 0.35 * u))) ** 2 <= 1.0
    vein = np.abs(v) < 0.04
    rgb = np.stack([0.15 + 0.2 * x, 0.45 + 0.3 * y, 0.1 + 0 * x], axis=-1)
    rgb[vein] = (0.6, 0.7, 0.3)
    alpha = inside.astype(np.float32)[..., None]
    img = bpy.data.images.new("Leaf", n, n, alpha=True)
    img.colorspace_settings.name = "sRGB"
    img.pixels.foreach_set(np.concatenate([rgb, alpha], axis=-1).ravel())
    img.file_format = "PNG"
    img.pack()
    return img


def sphere(name, center, radius, mat):
    bpy.ops.mesh.primitive_uv_sphere_add(segments=32, ring_count=16, radius=radius, location=g2b(*center))
    ob = bpy.context.active_object
    ob.name = name
    ob.data.materials.append(mat)
    bpy.ops.object.shade_smooth()
    bpy.ops.object.transform_apply(location=True, rotation=True, scale=True)
    return ob


def patch_glb(path):
    """Writes MATERIAL_PATCHES into the .glb's JSON chunk, keeping its binary chunk."""
    with open(path, "rb") as f:
        data = f.read()
    magic, version, _ = struct.unpack_from("<III", data, 0)
    json_length, json_type = struct.unpack_from("<II", data, 12)
    assert magic == 0x46546C67 and json_type == 0x4E4F534A
    doc = json.loads(data[20:20 + json_length])
    rest = data[20 + json_length:]
    used = set(doc.get("extensionsUsed", []))
    for mat in doc["materials"]:
        patch = MATERIAL_PATCHES.get(mat["name"])
        if patch is None:
            continue
        for key, value in patch.items():
            if key == "extensions":
                mat.setdefault("extensions", {}).update(value)
                used.update(value)
            else:
                mat[key] = value
    doc["extensionsUsed"] = sorted(used)
    text = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    out = struct.pack("<III", magic, version, 12 + 8 + len(text) + len(rest))
    out += struct.pack("<II", len(text), json_type) + text + rest
    with open(path, "wb") as f:
        f.write(out)


def main():
    args = parse_args()
    out = os.path.abspath(args.out)
    clear_scene()
    scene = bpy.context.scene
    scene.render.fps = 24
    scene.frame_start = scene.frame_end = 0
    scene.render.resolution_x = scene.render.resolution_y = 512

    m_floor = material("Floor", base=(0.6, 0.6, 0.6))
    m_light = material("Light", base=(0.7, 0.7, 0.7), emission=(1.0, 1.0, 1.0), strength=EMISSION_STRENGTH)
    m_glass = material("Glass", base=(1.0, 1.0, 1.0), roughness=0.0)
    m_coat = material("Clearcoat", base=(0.6, 0.08, 0.06), roughness=0.6)
    m_sheen = material("Sheen", base=(0.1, 0.15, 0.45), roughness=0.8)
    m_leaf = material("Leaf", roughness=0.7, image=leaf_texture(), image_alpha=True)
    m_pane = material("Pane", base=(0.2, 0.5, 0.9), roughness=0.4, alpha=0.5)

    quad("Floor", [(-2, 0, 2), (2, 0, 2), (2, 0, -2), (-2, 0, -2)], m_floor)                  # normal +Y
    quad("BackWall", [(-2, 0, -1.5), (2, 0, -1.5), (2, 2.5, -1.5), (-2, 2.5, -1.5)], m_floor)  # normal +Z
    quad("AreaLight", [(-0.5, 2.5, -0.5), (-0.5, 2.5, 0.5), (0.5, 2.5, 0.5), (0.5, 2.5, -0.5)], m_light)  # normal -Y
    quad("Leaf", [(-0.9, 0.9, -1.0), (0.9, 0.9, -1.0), (0.9, 1.8, -1.0), (-0.9, 1.8, -1.0)], m_leaf)
    quad("Pane", [(0.55, 0.0, 0.75), (1.25, 0.0, 0.75), (1.25, 0.6, 0.75), (0.55, 0.6, 0.75)], m_pane)
    sphere("GlassSphere", (-1.0, 0.4, 0.0), 0.4, m_glass)
    sphere("ClearcoatSphere", (0.0, 0.4, 0.0), 0.4, m_coat)
    sphere("SheenSphere", (1.0, 0.4, -0.2), 0.4, m_sheen)

    scene.camera = camera("Camera", (0.0, 1.4, 3.6), (0.0, 0.6, 0.0))

    tris = sum(len(p.vertices) - 2 for ob in scene.objects if ob.type == "MESH" for p in ob.data.polygons)
    print(f"make_materials: {tris} triangles")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    bpy.ops.export_scene.gltf(filepath=out, export_format="GLB", export_yup=True, export_apply=True,
                              export_animations=False, export_cameras=True, export_lights=False,
                              export_image_format="AUTO", export_texcoords=True, export_normals=True)
    patch_glb(out)
    print(f"make_materials: wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
