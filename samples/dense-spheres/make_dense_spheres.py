"""Build the RenderFarm dense-spheres sample (a 100k+ triangle textured scene) and export it as glTF binary.

Usage (from the repository root):

    blender -b --factory-startup --python-exit-code 1 \
        -P samples/dense-spheres/make_dense_spheres.py -- [--out samples/dense-spheres/dense-spheres.glb]

Scene (glTF coordinates, +Y up): a 3 x 3 grid of smooth UV spheres (128 segments x 64 rings each,
radius 0.42, ~16k triangles each) on a 6 x 6 textured floor, lit only by a 1.5 x 1.5 emissive quad
(strength 12) 3 units above the floor. Every sphere and the floor sample one 256 x 256 checker/gradient
base-colour image generated in this script and embedded (PNG) in the .glb; sphere roughness runs from
0.2 to 1.0 and the middle column is metallic 0.5, so the scene exercises textures, glossy and diffuse
bounces and a deep BVH at once. Camera: perspective, yfov 40 deg, 1:1. No animation (one frame).
"""

import argparse
import os
import sys

import bpy
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from blender_scene import camera, clear_scene, g2b, material, quad  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "dense-spheres.glb")
EMISSION_STRENGTH = 12.0
TEX_SIZE = 256
SEGMENTS = 128
RINGS = 64


def parse_args():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=DEFAULT_OUT, help="output .glb path (default: %(default)s)")
    return p.parse_args(argv)


def make_texture():
    """256x256 RGBA: 16x16 checker of two colours modulated by a hue gradient and fine stripes."""
    n = TEX_SIZE
    y, x = np.mgrid[0:n, 0:n].astype(np.float32) / (n - 1)
    checker = ((np.floor(x * 16) + np.floor(y * 16)) % 2).astype(np.float32)
    stripes = 0.5 + 0.5 * np.sin(x * 90.0)
    r = 0.2 + 0.7 * x
    g = 0.2 + 0.5 * y * stripes
    b = 0.85 - 0.6 * x * y
    rgb = np.stack([r, g, b], axis=-1) * (0.35 + 0.65 * checker[..., None])
    rgba = np.concatenate([rgb, np.ones((n, n, 1), np.float32)], axis=-1)
    img = bpy.data.images.new("DenseChecker", n, n, alpha=False)
    img.colorspace_settings.name = "sRGB"
    img.pixels.foreach_set(rgba.ravel())
    img.file_format = "PNG"
    img.pack()
    return img


def main():
    args = parse_args()
    out = os.path.abspath(args.out)
    clear_scene()
    scene = bpy.context.scene
    scene.render.fps = 24
    scene.frame_start = scene.frame_end = 0

    img = make_texture()
    for row in range(3):
        for col in range(3):
            roughness = 0.2 + 0.1 * (row * 3 + col)
            mat = material(f"Sphere{row}{col}", roughness=roughness, metallic=0.5 if col == 1 else 0.0, image=img)
            bpy.ops.mesh.primitive_uv_sphere_add(segments=SEGMENTS, ring_count=RINGS, radius=0.42,
                                                 location=g2b(-1.0 + col, 0.42, -1.0 + row))
            ob = bpy.context.active_object
            ob.name = f"Sphere{row}{col}"
            ob.data.materials.append(mat)
            bpy.ops.object.shade_smooth()
            bpy.ops.object.transform_apply(location=True, rotation=True, scale=True)

    m_floor = material("FloorTextured", roughness=0.8, image=img)
    m_light = material("Light", base=(0.7, 0.7, 0.7), emission=(1.0, 1.0, 1.0), strength=EMISSION_STRENGTH)
    quad("Floor", [(-3, 0, 3), (3, 0, 3), (3, 0, -3), (-3, 0, -3)], m_floor)
    quad("AreaLight", [(-0.75, 3, -0.75), (-0.75, 3, 0.75), (0.75, 3, 0.75), (0.75, 3, -0.75)], m_light)

    scene.camera = camera("Camera", (0.0, 2.6, 3.6), (0.0, 0.3, 0.0))

    tris = sum(len(p.vertices) - 2 for ob in scene.objects if ob.type == "MESH" for p in ob.data.polygons)
    print(f"make_dense_spheres: {tris} triangles")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    bpy.ops.export_scene.gltf(filepath=out, export_format="GLB", export_yup=True, export_apply=True,
                              export_animations=False, export_cameras=True, export_lights=False,
                              export_image_format="AUTO", export_texcoords=True, export_normals=True)
    print(f"make_dense_spheres: wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
