"""Build the RenderFarm environment-lit sample: a scene with no lights of its own, and the sky that lights it.

Usage (from the repository root):

    blender -b --factory-startup --python-exit-code 1 \
        -P samples/environment/make_environment.py -- [--out samples/environment]

Writes three files:
  - sky.hdr: a 64 x 32 equirectangular Radiance map (run-length encoded, as Blender writes it): a blue-to-white
    sky over a brown ground, and a small sun of radiance 400 whose light dominates, at 35 degrees elevation
    towards +X turned 40 degrees towards -Z (glTF coordinates);
  - sky.exr: the same pixels as OpenEXR (ZIP, half floats), for the reader's tests;
  - environment.glb: a grey rough sphere, a red glossy cube and a light floor (4 x 4) seen by a 40 degree
    camera, with no emitters and no punctual lights.
"""

import argparse
import math
import os
import sys

import bpy
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from blender_scene import camera, g2b, material  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WIDTH, HEIGHT = 64, 32


def parse_args():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=HERE, help="output folder (default: %(default)s)")
    return p.parse_args(argv)


def sky_pixels():
    """Rows top to bottom: elevation from +90 to -90 degrees; columns: Blender's equirectangular azimuth."""
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    elevation = (0.5 - (rows + 0.5) / HEIGHT) * math.pi
    azimuth = (0.5 - (cols + 0.5) / WIDTH) * 2 * math.pi  # Blender: u = -atan2(y, x) / 2pi + 0.5
    up = np.clip(np.sin(elevation), 0, 1)[..., None]
    sky = (1 - up) * np.array([0.9, 0.95, 1.0]) + up * np.array([0.25, 0.45, 0.9])
    ground = np.broadcast_to(np.array([0.3, 0.22, 0.15]), sky.shape)
    rgb = np.where((elevation > 0)[..., None], sky, ground).copy()
    # The sun: Blender direction at elevation 35 deg, azimuth 40 deg (towards +X, turned towards +Y = glTF -Z).
    sun = np.array([math.cos(math.radians(35)) * math.cos(math.radians(40)),
                    math.cos(math.radians(35)) * math.sin(math.radians(40)),
                    math.sin(math.radians(35))])
    d = np.stack([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)], -1)
    rgb[(d @ sun) > math.cos(math.radians(6))] = [400.0, 380.0, 340.0]
    return rgb


def write_maps(folder):
    rgb = sky_pixels()
    rgba = np.concatenate([rgb, np.ones((HEIGHT, WIDTH, 1))], -1)[::-1]  # Blender stores rows bottom to top
    image = bpy.data.images.new("Sky", WIDTH, HEIGHT, alpha=False, float_buffer=True)
    image.colorspace_settings.name = "Linear"
    image.pixels.foreach_set(rgba.astype(np.float32).ravel())
    scene = bpy.context.scene
    settings = scene.render.image_settings
    settings.file_format = "HDR"
    settings.color_mode = "RGB"
    image.save_render(os.path.join(folder, "sky.hdr"), scene=scene)
    settings.file_format = "OPEN_EXR"
    settings.color_depth = "16"
    settings.exr_codec = "ZIP"
    image.save_render(os.path.join(folder, "sky.exr"), scene=scene)


def main():
    args = parse_args()
    folder = os.path.abspath(args.out)
    os.makedirs(folder, exist_ok=True)
    bpy.ops.object.select_all(action="SELECT")
    bpy.ops.object.delete()
    scene = bpy.context.scene
    scene.render.fps = 24
    scene.frame_start = scene.frame_end = 0
    scene.render.resolution_x = scene.render.resolution_y = 128
    # Save as Render writes the pixels as they are: Standard view, no look, no dither.
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.render.dither_intensity = 0.0
    write_maps(folder)

    bpy.ops.mesh.primitive_uv_sphere_add(segments=48, ring_count=24, radius=0.6, location=g2b(-0.7, 0.6, 0.2))
    sphere = bpy.context.active_object
    sphere.data.materials.append(material("Grey", (0.7, 0.7, 0.7), 0.8))
    bpy.ops.object.shade_smooth()
    bpy.ops.mesh.primitive_cube_add(size=0.8, location=g2b(0.7, 0.4, -0.2), rotation=(0, 0, math.radians(25)))
    bpy.context.active_object.data.materials.append(material("Red", (0.7, 0.08, 0.05), 0.35))
    bpy.ops.mesh.primitive_plane_add(size=4.0, location=(0, 0, 0))
    bpy.context.active_object.data.materials.append(material("Floor", (0.6, 0.6, 0.6), 1.0))

    scene.camera = camera("Camera", (0.0, 1.8, 4.0), (0.0, 0.4, 0.0))

    out = os.path.join(folder, "environment.glb")
    bpy.ops.export_scene.gltf(filepath=out, export_format="GLB", export_yup=True, export_apply=True,
                              export_animations=False, export_cameras=True, export_lights=False,
                              export_texcoords=True, export_normals=True)
    print(f"make_environment: wrote {out}, sky.hdr and sky.exr")


if __name__ == "__main__":
    main()
