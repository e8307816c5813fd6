"""Build the RenderFarm punctual-lights sample: a scene lit only by a point light and a spot light, exported
with Blender's own W -> cd conversion (KHR_lights_punctual).

Usage (from the repository root):

    blender -b --factory-startup --python-exit-code 1 \
        -P samples/lights/make_lights.py -- [--out samples/lights/lights.glb]

Scene (glTF coordinates, +Y up): a grey rough sphere and a blue cube on a light 6 x 6 floor. A 300 W warm point
light 2.2 units up on the left; a 900 W spot light 3 units up on the right pointing down at the cube, cone 50
degrees, blend 0.3 (Blender's exporter writes outer = 25 degrees, inner = 17.5 degrees, and intensity
W / 4pi * 683 cd). Camera: perspective, yfov 40 deg, 1:1. No emitters, black world.
"""

import argparse
import math
import os
import sys

import bpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from blender_scene import camera, g2b, material  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(HERE, "lights.glb"), help="output .glb path (default: %(default)s)")
    return p.parse_args(argv)


def main():
    args = parse_args()
    out = os.path.abspath(args.out)
    bpy.ops.object.select_all(action="SELECT")
    bpy.ops.object.delete()
    scene = bpy.context.scene
    scene.render.fps = 24
    scene.frame_start = scene.frame_end = 0
    scene.render.resolution_x = scene.render.resolution_y = 128  # the camera's aspect: 1:1

    bpy.ops.mesh.primitive_uv_sphere_add(segments=48, ring_count=24, radius=0.6, location=g2b(-0.8, 0.6, 0.0))
    bpy.context.active_object.data.materials.append(material("Grey", (0.7, 0.7, 0.7), 0.8))
    bpy.ops.object.shade_smooth()
    bpy.ops.mesh.primitive_cube_add(size=0.8, location=g2b(0.9, 0.4, -0.3), rotation=(0, 0, math.radians(20)))
    bpy.context.active_object.data.materials.append(material("Blue", (0.1, 0.2, 0.7), 0.5))
    bpy.ops.mesh.primitive_plane_add(size=6.0, location=(0, 0, 0))
    bpy.context.active_object.data.materials.append(material("Floor", (0.6, 0.6, 0.6), 1.0))

    point = bpy.data.lights.new("Point", "POINT")
    point.energy = 300.0
    point.color = (1.0, 0.85, 0.7)
    point.shadow_soft_size = 0.0
    point_ob = bpy.data.objects.new("Point", point)
    scene.collection.objects.link(point_ob)
    point_ob.location = g2b(-1.8, 2.2, 0.8)

    spot = bpy.data.lights.new("Spot", "SPOT")
    spot.energy = 900.0
    spot.spot_size = math.radians(50.0)
    spot.spot_blend = 0.3
    spot.shadow_soft_size = 0.0
    spot_ob = bpy.data.objects.new("Spot", spot)
    scene.collection.objects.link(spot_ob)
    spot_ob.location = g2b(1.2, 3.0, -0.3)
    spot_ob.rotation_euler = (0.0, math.radians(6.0), 0.0)  # a little off straight down (Blender lights shine along -Z)

    scene.camera = camera("Camera", (0.0, 2.4, 4.5), (0.0, 0.3, 0.0))

    os.makedirs(os.path.dirname(out), exist_ok=True)
    bpy.ops.export_scene.gltf(filepath=out, export_format="GLB", export_yup=True, export_apply=True,
                              export_animations=False, export_cameras=True, export_lights=True,
                              export_texcoords=True, export_normals=True)
    print(f"make_lights: wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
