"""Build the RenderFarm instancing sample: a few meshes drawn many times as linked duplicates (one mesh datablock,
many objects), which Blender's glTF exporter writes as one mesh referenced by many nodes.

Usage (from the repository root):

    blender -b --factory-startup --python-exit-code 1 \
        -P samples/instancing/make_instancing.py -- [--out samples/instancing/instancing.glb]

Scene (glTF coordinates, +Y up), on a light 8 x 8 floor (a mesh used once):
- a smooth "Pillar" cylinder, 8 instances in a ring, of varied heights (non-uniform scale);
- a smooth "Ball" sphere, 16 instances in a 4 x 4 grid inside the ring, of varied uniform sizes;
- a "Wedge", an asymmetric ramp with a single-sided material (glTF doubleSided false), 5 instances rotated about Y,
  one of them mirrored (scale x = -1, which the exporter writes as scale (-1, -1, -1) and a rotation): drawn with the
  wrong winding, its outside would be culled.
Lights: a 700 W warm point light and a sun (2.5 W/m^2) from the upper left; black world.
Camera: perspective, yfov 40 deg, 1:1, looking down at the ring. The glTF holds 3 + 1 meshes and 30 mesh nodes.
"""

import argparse
import math
import os
import sys

import bmesh
import bpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from blender_scene import camera, clear_scene, g2b, link, material  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(HERE, "instancing.glb"), help="output .glb path (default: %(default)s)")
    return p.parse_args(argv)


def wedge_mesh():
    """A ramp: a 0.6 x 0.5 x 0.4 (Blender x, y, z) block whose top slopes down towards +x, with a notch on one side,
    so that it has no mirror symmetry along x."""
    me = bpy.data.meshes.new("Wedge")
    bm = bmesh.new()
    verts = [
        (-0.3, -0.25, 0.0), (0.3, -0.25, 0.0), (0.3, 0.25, 0.0), (-0.3, 0.25, 0.0),
        (-0.3, -0.25, 0.45), (0.3, -0.25, 0.12), (0.3, 0.25, 0.12), (-0.3, 0.25, 0.45),
    ]
    v = [bm.verts.new(p) for p in verts]
    for face in ((0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)):
        bm.faces.new([v[i] for i in face])
    bmesh.ops.recalc_face_normals(bm, faces=bm.faces)
    bm.to_mesh(me)
    bm.free()
    return me


def duplicate(source, name, location, rotation_y=0.0, scale=(1.0, 1.0, 1.0)):
    """A linked duplicate: a new object sharing source's mesh datablock."""
    ob = bpy.data.objects.new(name, source.data)
    link(ob)
    ob.location = location
    ob.rotation_euler = (0.0, 0.0, rotation_y)
    ob.scale = scale
    return ob


def main():
    args = parse_args()
    out = os.path.abspath(args.out)
    clear_scene()
    scene = bpy.context.scene
    scene.render.fps = 24
    scene.frame_start = scene.frame_end = 0
    scene.render.resolution_x = scene.render.resolution_y = 128  # the camera's aspect: 1:1

    bpy.ops.mesh.primitive_plane_add(size=8.0, location=(0, 0, 0))
    bpy.context.active_object.data.materials.append(material("Floor", (0.6, 0.6, 0.6), 1.0))

    bpy.ops.mesh.primitive_cylinder_add(vertices=24, radius=0.18, depth=1.0, location=(0, 0, 0))
    pillar = bpy.context.active_object
    pillar.data.name = "Pillar"
    pillar.data.materials.append(material("Terracotta", (0.7, 0.3, 0.15), 0.6))
    bpy.ops.object.shade_smooth()
    bpy.data.objects.remove(pillar)

    bpy.ops.mesh.primitive_uv_sphere_add(segments=32, ring_count=16, radius=0.2, location=(0, 0, 0))
    ball = bpy.context.active_object
    ball.data.name = "Ball"
    ball.data.materials.append(material("Teal", (0.1, 0.5, 0.5), 0.3))
    bpy.ops.object.shade_smooth()
    bpy.data.objects.remove(ball)

    wedge_data = wedge_mesh()
    wedge_data.materials.append(material("Yellow", (0.8, 0.65, 0.1), 0.5, single_sided=True))

    class Source:
        def __init__(self, data):
            self.data = data

    pillar_src = Source(bpy.data.meshes["Pillar"])
    ball_src = Source(bpy.data.meshes["Ball"])
    wedge_src = Source(wedge_data)

    # Pillars: the cylinder is 1 high around its centre; each stands on the floor at its own height.
    for k in range(8):
        angle = 2.0 * math.pi * k / 8.0
        height = 0.7 + 0.15 * (k % 4)
        x, z = 2.3 * math.cos(angle), 2.3 * math.sin(angle)
        duplicate(pillar_src, f"Pillar.{k}", g2b(x, height / 2.0, z), scale=(1.0, 1.0, height))

    # Balls: a 4 x 4 grid resting on the floor, sizes 0.6x to 1.5x.
    for i in range(4):
        for j in range(4):
            s = 0.6 + 0.3 * ((i + 2 * j) % 4)
            duplicate(ball_src, f"Ball.{i}{j}", g2b(-1.05 + 0.7 * i, 0.2 * s, -1.05 + 0.7 * j), scale=(s, s, s))

    # Wedges outside the ring, in front; the third is mirrored along its own x.
    for k in range(5):
        x = -2.4 + 1.2 * k
        mirrored = k == 2
        duplicate(wedge_src, f"Wedge.{k}{'.mirrored' if mirrored else ''}", g2b(x, 0.0, 2.9),
                  rotation_y=math.radians(25.0 * (k - 2)), scale=(-1.0 if mirrored else 1.0, 1.0, 1.0))

    point = bpy.data.lights.new("Point", "POINT")
    point.energy = 700.0
    point.color = (1.0, 0.9, 0.8)
    point.shadow_soft_size = 0.0
    point_ob = bpy.data.objects.new("Point", point)
    scene.collection.objects.link(point_ob)
    point_ob.location = g2b(1.0, 3.5, 1.5)

    sun = bpy.data.lights.new("Sun", "SUN")
    sun.energy = 2.5
    sun.angle = 0.0
    sun_ob = bpy.data.objects.new("Sun", sun)
    scene.collection.objects.link(sun_ob)
    sun_ob.rotation_euler = (math.radians(40.0), math.radians(-30.0), 0.0)

    scene.camera = camera("Camera", (0.0, 4.6, 6.2), (0.0, 0.2, 0.4))

    os.makedirs(os.path.dirname(out), exist_ok=True)
    bpy.ops.export_scene.gltf(filepath=out, export_format="GLB", export_yup=True, export_apply=False,
                              export_animations=False, export_cameras=True, export_lights=True,
                              export_texcoords=True, export_normals=True)
    print(f"make_instancing: wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
