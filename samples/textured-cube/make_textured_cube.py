"""Build the RenderFarm textured-cube sample and export it as glTF binary.

Usage (from the repository root):

    blender -b --factory-startup --python-exit-code 1 \
        -P samples/textured-cube/make_textured_cube.py -- [--out samples/textured-cube/textured-cube.glb]

Scene (glTF coordinates, +Y up): a 1 x 1 x 1 cube (turned 30 degrees about +Y) on a 4 x 4 grey
floor, lit only by a 1 x 1 emissive quad (strength 15) 2.5 units above the floor (emissive strength = radiance,
no punctual lights).  The cube's base colour is a 64 x 64 checker/gradient image generated
in this script and embedded (PNG) in the .glb; metallic 0, roughness 0.5.  Camera: perspective,
yfov 40 deg, 1:1.  No animation (one frame).
"""

import argparse
import math
import os
import sys

import bpy
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from blender_scene import camera, clear_scene, g2b, material, quad  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "textured-cube.glb")
EMISSION_STRENGTH = 15.0
TEX_SIZE = 64


def parse_args():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=DEFAULT_OUT, help="output .glb path (default: %(default)s)")
    return p.parse_args(argv)


def make_texture():
    """64x64 RGBA: 8x8 checker of two colours modulated by a diagonal hue gradient."""
    n = TEX_SIZE
    y, x = np.mgrid[0:n, 0:n].astype(np.float32) / (n - 1)
    checker = ((np.floor(x * 8) + np.floor(y * 8)) % 2).astype(np.float32)
    r = 0.15 + 0.75 * x
    g = 0.15 + 0.6 * y
    b = 0.8 - 0.6 * x * y
    rgb = np.stack([r, g, b], axis=-1) * (0.35 + 0.65 * checker[..., None])
    rgba = np.concatenate([rgb, np.ones((n, n, 1), np.float32)], axis=-1)
    img = bpy.data.images.new("CheckerGradient", n, n, alpha=False)
    img.colorspace_settings.name = "sRGB"
    # values above are sRGB-encoded display values; Blender byte images store them as-is
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
    scene.render.resolution_x = scene.render.resolution_y = 512

    img = make_texture()
    m_cube = material("CubeTextured", roughness=0.5, metallic=0.0, image=img)
    m_floor = material("Floor", base=(0.6, 0.6, 0.6))
    m_light = material("Light", base=(0.7, 0.7, 0.7), emission=(1.0, 1.0, 1.0), strength=EMISSION_STRENGTH)

    # cube: the default primitive has UVs; bake its transform into the mesh
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=g2b(0.0, 0.5, 0.0), rotation=(0, 0, math.radians(30)))
    cube = bpy.context.active_object
    cube.name = "Cube"
    cube.data.materials.append(m_cube)
    bpy.ops.object.transform_apply(location=True, rotation=True, scale=True)
    # every face gets the whole texture (the primitive's default UVs are a cross-shaped atlas)
    bpy.ops.object.mode_set(mode="EDIT")
    bpy.ops.mesh.select_all(action="SELECT")
    bpy.ops.uv.reset()
    bpy.ops.object.mode_set(mode="OBJECT")

    quad("Floor", [(-2, 0, 2), (2, 0, 2), (2, 0, -2), (-2, 0, -2)], m_floor)             # normal +Y
    quad("AreaLight", [(-0.5, 2.5, -0.5), (-0.5, 2.5, 0.5), (0.5, 2.5, 0.5), (0.5, 2.5, -0.5)], m_light)  # normal -Y

    scene.camera = camera("Camera", (0.0, 2.0, 3.5), (0.0, 0.4, 0.0))

    tris = sum(len(p.vertices) - 2 for ob in scene.objects if ob.type == "MESH" for p in ob.data.polygons)
    print(f"make_textured_cube: {tris} triangles")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    bpy.ops.export_scene.gltf(filepath=out, export_format="GLB", export_yup=True, export_apply=True,
                              export_animations=False, export_cameras=True, export_lights=False,
                              export_image_format="AUTO", export_texcoords=True, export_normals=True)
    print(f"make_textured_cube: wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
