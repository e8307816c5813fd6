"""Build the RenderFarm morph-shape sample and export it as glTF binary.

Usage (from the repository root):

    blender -b --factory-startup --python-exit-code 1 \
        -P samples/morph-shape/make_morph_shape.py -- [--out samples/morph-shape/morph-shape.glb]

Scene (glTF coordinates, +Y up): a smooth UV sphere (radius 0.5, 32 x 16) centred 0.5 above a
4 x 4 grey floor, with two shape keys exported as morph targets (POSITION and NORMAL deltas):
"Tall" stretches it to twice its height and 0.7 of its width, keeping its base on the floor;
"Flat" squashes it to 0.5 of its height, keeping its base on the floor. "Tall" is animated
from 0 at frame 1 to 1 at frame 24 (linear keys); "Flat" stays at 0.25, so it is the mesh's
default weight and also a constant in the weights channel. Lit only by a 1.5 x 1.5 emissive
quad (strength 8) 3 units above the floor; one perspective camera, yfov 40 deg, 1:1.

Frame convention: renderer frame N is glTF time (N - 1) / 24 s; keys sit on Blender frames
N - 1 (0..23), as in the Cornell box sample.
"""

import argparse
import os
import sys

import bpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from blender_scene import camera, material, quad  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "morph-shape.glb")
FRAMES = 24
EMISSION_STRENGTH = 8.0
FLAT_WEIGHT = 0.25


def parse_args():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=DEFAULT_OUT, help="output .glb path (default: %(default)s)")
    return p.parse_args(argv)


def clear_scene():
    bpy.ops.object.select_all(action="SELECT")
    bpy.ops.object.delete()
    for coll in (bpy.data.meshes, bpy.data.materials, bpy.data.cameras, bpy.data.lights,
                 bpy.data.shape_keys, bpy.data.actions):
        for block in list(coll):
            try:
                coll.remove(block)
            except (AttributeError, TypeError):
                pass


def build_shape(mat):
    # Origin at the sphere's base so that both shapes keep it on the floor.
    bpy.ops.mesh.primitive_uv_sphere_add(segments=32, ring_count=16, radius=0.5, location=(0, 0, 0))
    ob = bpy.context.active_object
    ob.name = "Shape"
    ob.data.name = "Shape"
    for v in ob.data.vertices:
        v.co.z += 0.5
    bpy.ops.object.shade_smooth()
    ob.data.materials.append(mat)
    ob.shape_key_add(name="Basis")
    tall = ob.shape_key_add(name="Tall")
    flat = ob.shape_key_add(name="Flat")
    for i, v in enumerate(ob.data.vertices):
        x, y, z = v.co
        tall.data[i].co = (0.7 * x, 0.7 * y, 2.0 * z)
        flat.data[i].co = (x, y, 0.5 * z)
    flat.value = FLAT_WEIGHT
    for frame, value in ((0, 0.0), (FRAMES - 1, 1.0)):
        tall.value = value
        tall.keyframe_insert("value", frame=frame)
    for fc in ob.data.shape_keys.animation_data.action.fcurves:
        for kp in fc.keyframe_points:
            kp.interpolation = "LINEAR"
    return ob


def main():
    args = parse_args()
    out = os.path.abspath(args.out)
    clear_scene()
    scene = bpy.context.scene
    scene.render.fps = 24
    scene.render.fps_base = 1.0
    scene.frame_start = 0
    scene.frame_end = FRAMES - 1
    scene.render.resolution_x = scene.render.resolution_y = 512

    m_body = material("Body", (0.15, 0.35, 0.7))
    m_floor = material("Floor", (0.6, 0.6, 0.6))
    m_light = material("Light", (0.7, 0.7, 0.7), emission=(1.0, 1.0, 1.0), strength=EMISSION_STRENGTH)
    quad("Floor", [(-2, 0, 2), (2, 0, 2), (2, 0, -2), (-2, 0, -2)], m_floor, uv_scale=None)
    quad("AreaLight", [(-0.75, 3, -0.75), (-0.75, 3, 0.75), (0.75, 3, 0.75), (0.75, 3, -0.75)], m_light, uv_scale=None)
    build_shape(m_body)

    scene.camera = camera("Camera", (0.0, 1.4, 3.6), (0.0, 0.7, 0.0))
    scene.frame_set(0)

    os.makedirs(os.path.dirname(out), exist_ok=True)
    bpy.ops.export_scene.gltf(
        filepath=out, export_format="GLB", export_yup=True, export_apply=False,
        export_animations=True, export_frame_range=True, export_force_sampling=True,
        export_skins=False, export_morph=True, export_morph_normal=True, export_morph_tangent=False,
        export_cameras=True, export_lights=False, export_extras=False,
        export_texcoords=False, export_normals=True, use_selection=False)
    print(f"make_morph_shape: wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
