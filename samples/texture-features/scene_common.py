"""Shared parts of the texture-feature samples (texture-transform, texcoord1, vertex-colors).

Each sample is a 1 x 1 x 1 cube on a 4 x 4 floor, lit only by a 1 x 1 emissive quad (strength 15) 2.5 units
above the floor, seen by a perspective camera (yfov 40 deg, 1:1); the sample's script gives the cube (and the
floor) a material that uses its feature. glTF coordinates, +Y up.
"""

import math
import os
import sys

import bpy
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from blender_scene import camera, clear_scene, g2b, material, quad  # noqa: E402

EMISSION_STRENGTH = 15.0
TEX_SIZE = 64


def checker_image(name="Checker"):
    """64x64 sRGB image: an 8x8 checker of two colours modulated by a diagonal hue gradient, so that a
    wrong offset, rotation, scale or coordinate set moves visible edges and hues."""
    n = TEX_SIZE
    y, x = np.mgrid[0:n, 0:n].astype(np.float32) / (n - 1)
    checker = ((np.floor(x * 8) + np.floor(y * 8)) % 2).astype(np.float32)
    rgb = np.stack([0.15 + 0.75 * x, 0.15 + 0.6 * y, 0.8 - 0.6 * x * y], axis=-1) * (0.3 + 0.7 * checker[..., None])
    rgba = np.concatenate([rgb, np.ones((n, n, 1), np.float32)], axis=-1)
    img = bpy.data.images.new(name, n, n, alpha=False)
    img.colorspace_settings.name = "sRGB"
    img.pixels.foreach_set(rgba.ravel())
    img.file_format = "PNG"
    img.pack()
    return img


def image_node(mat, image):
    """An Image Texture node (linear filtering) feeding the material's base colour."""
    nt = mat.node_tree
    tex = nt.nodes.new("ShaderNodeTexImage")
    tex.image = image
    tex.interpolation = "Linear"
    tex.location = (-350, 300)
    nt.links.new(tex.outputs["Color"], nt.nodes["Principled BSDF"].inputs["Base Color"])
    return tex


def cube(mat, subdivisions=0):
    """The 1 x 1 x 1 cube turned 30 degrees, each face holding the whole texture in UVMap."""
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=g2b(0.0, 0.5, 0.0), rotation=(0, 0, math.radians(30)))
    ob = bpy.context.active_object
    ob.name = "Cube"
    ob.data.materials.append(mat)
    bpy.ops.object.transform_apply(location=True, rotation=True, scale=True)
    bpy.ops.object.mode_set(mode="EDIT")
    bpy.ops.mesh.select_all(action="SELECT")
    if subdivisions:
        bpy.ops.mesh.subdivide(number_cuts=subdivisions)
    bpy.ops.uv.reset()
    bpy.ops.object.mode_set(mode="OBJECT")
    return ob


def stage(floor_material=None):
    """The floor, the emissive quad and the camera, shared by every sample."""
    scene = bpy.context.scene
    scene.render.fps = 24
    scene.frame_start = scene.frame_end = 0
    scene.render.resolution_x = scene.render.resolution_y = 512
    floor = quad("Floor", [(-2, 0, 2), (2, 0, 2), (2, 0, -2), (-2, 0, -2)], floor_material or material("Floor", base=(0.6, 0.6, 0.6)))
    light = material("Light", base=(0.7, 0.7, 0.7), emission=(1.0, 1.0, 1.0), strength=EMISSION_STRENGTH)
    quad("AreaLight", [(-0.5, 2.5, -0.5), (-0.5, 2.5, 0.5), (0.5, 2.5, 0.5), (0.5, 2.5, -0.5)], light)
    scene.camera = camera("Camera", (0.0, 2.0, 3.5), (0.0, 0.4, 0.0))
    return floor


def export(out, tag, colors=False):
    scene = bpy.context.scene
    tris = sum(len(p.vertices) - 2 for ob in scene.objects if ob.type == "MESH" for p in ob.data.polygons)
    print(f"{tag}: {tris} triangles")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    bpy.ops.export_scene.gltf(filepath=out, export_format="GLB", export_yup=True, export_apply=True,
                              export_animations=False, export_cameras=True, export_lights=False,
                              export_image_format="AUTO", export_texcoords=True, export_normals=True,
                              export_colors=colors)
    print(f"{tag}: wrote {out} ({os.path.getsize(out)} bytes)")
