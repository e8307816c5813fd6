"""Build the RenderFarm skinned-cylinder sample and export it as glTF binary.

Usage (from the repository root):

    blender -b --factory-startup --python-exit-code 1 \
        -P samples/skinned-cylinder/make_skinned_cylinder.py -- [--out samples/skinned-cylinder/skinned-cylinder.glb]

Scene (glTF coordinates, +Y up): a 1.6-unit tall cylinder (radius 0.2, 17 rings of 24 vertices,
capped, smooth normals) standing on a 4 x 4 grey floor, skinned to a two-bone armature
("Lower" 0..0.8, "Upper" 0.8..1.6). Each vertex is weighted to both bones with a smooth ramp
between heights 0.6 and 1.0, so the skin must blend two joint matrices there. The "Upper"
bone bends 90 degrees about its local X axis over frames 1-24 (linear keys): frame 1 is
straight, frame 13 is bent about 47 degrees, frame 24 is bent 90 degrees. Lit only by a
1.5 x 1.5 emissive quad (strength 8) 3 units above the floor. Two cameras: "Front" (active,
the one Cycles renders) and "Side", both perspective, yfov 40 deg, 1:1.

Frame convention: renderer frame N is glTF time (N - 1) / 24 s; keys sit on Blender frames
N - 1 (0..23), as in the Cornell box sample.
"""

import argparse
import math
import os
import sys

import bpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from blender_scene import camera, link, material, quad  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "skinned-cylinder.glb")
FRAMES = 24
HEIGHT = 1.6
RADIUS = 0.2
RINGS = 17
SEGMENTS = 24
EMISSION_STRENGTH = 8.0


def parse_args():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=DEFAULT_OUT, help="output .glb path (default: %(default)s)")
    return p.parse_args(argv)


def clear_scene():
    bpy.ops.object.select_all(action="SELECT")
    bpy.ops.object.delete()
    for coll in (bpy.data.meshes, bpy.data.materials, bpy.data.cameras, bpy.data.lights,
                 bpy.data.armatures, bpy.data.actions):
        for block in list(coll):
            coll.remove(block)


def upper_weight(z):
    """Share of the upper bone: 0 below 0.6, 1 above 1.0, smoothstep between."""
    t = min(1.0, max(0.0, (z - 0.6) / 0.4))
    return t * t * (3 - 2 * t)


def build_cylinder(mat):
    verts, faces = [], []
    for r in range(RINGS):
        z = HEIGHT * r / (RINGS - 1)
        for s in range(SEGMENTS):
            a = 2 * math.pi * s / SEGMENTS
            verts.append((RADIUS * math.cos(a), RADIUS * math.sin(a), z))
    for r in range(RINGS - 1):
        for s in range(SEGMENTS):
            a, b = r * SEGMENTS + s, r * SEGMENTS + (s + 1) % SEGMENTS
            faces.append((a, b, b + SEGMENTS, a + SEGMENTS))
    faces.append(tuple(reversed(range(SEGMENTS))))
    faces.append(tuple((RINGS - 1) * SEGMENTS + s for s in range(SEGMENTS)))
    me = bpy.data.meshes.new("Cylinder")
    me.from_pydata(verts, [], faces)
    me.materials.append(mat)
    for poly in me.polygons:
        poly.use_smooth = len(poly.vertices) == 4
    me.update()
    ob = link(bpy.data.objects.new("Cylinder", me))
    lower = ob.vertex_groups.new(name="Lower")
    upper = ob.vertex_groups.new(name="Upper")
    for i, v in enumerate(verts):
        w = upper_weight(v[2])
        if w < 1.0:
            lower.add([i], 1.0 - w, "REPLACE")
        if w > 0.0:
            upper.add([i], w, "REPLACE")
    return ob


def build_armature(cylinder):
    arm = bpy.data.armatures.new("Armature")
    rig = link(bpy.data.objects.new("Armature", arm))
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    lower = arm.edit_bones.new("Lower")
    lower.head, lower.tail = (0, 0, 0), (0, 0, HEIGHT / 2)
    upper = arm.edit_bones.new("Upper")
    upper.head, upper.tail = (0, 0, HEIGHT / 2), (0, 0, HEIGHT)
    upper.parent = lower
    upper.use_connect = True
    bpy.ops.object.mode_set(mode="OBJECT")
    cylinder.parent = rig
    mod = cylinder.modifiers.new("Armature", "ARMATURE")
    mod.object = rig

    bone = rig.pose.bones["Upper"]
    bone.rotation_mode = "XYZ"
    for frame, angle in ((0, 0.0), (FRAMES - 1, 90.0)):
        bone.rotation_euler = (math.radians(angle), 0.0, 0.0)
        bone.keyframe_insert("rotation_euler", frame=frame)
    for fc in rig.animation_data.action.fcurves:
        for kp in fc.keyframe_points:
            kp.interpolation = "LINEAR"
    return rig


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

    m_body = material("Body", (0.7, 0.25, 0.1))
    m_floor = material("Floor", (0.6, 0.6, 0.6))
    m_light = material("Light", (0.7, 0.7, 0.7), emission=(1.0, 1.0, 1.0), strength=EMISSION_STRENGTH)
    quad("Floor", [(-2, 0, 2), (2, 0, 2), (2, 0, -2), (-2, 0, -2)], m_floor, uv_scale=None)
    quad("AreaLight", [(-0.75, 3, -0.75), (-0.75, 3, 0.75), (0.75, 3, 0.75), (0.75, 3, -0.75)], m_light, uv_scale=None)
    cylinder = build_cylinder(m_body)
    build_armature(cylinder)
    scene.camera = camera("Front", (2.2, 1.6, 3.2), (0.0, 0.8, 0.0))
    camera("Side", (4.0, 1.0, 0.0), (0.0, 0.8, 0.0))
    scene.frame_set(0)

    os.makedirs(os.path.dirname(out), exist_ok=True)
    bpy.ops.export_scene.gltf(
        filepath=out, export_format="GLB", export_yup=True, export_apply=False,
        export_animations=True, export_frame_range=True, export_force_sampling=True,
        export_skins=True, export_all_influences=False, export_morph=False,
        export_cameras=True, export_lights=False, export_extras=False,
        export_texcoords=False, export_normals=True, use_selection=False)
    print(f"make_skinned_cylinder: wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
