"""Build the RenderFarm Cornell-box sample scene from nothing and export it as glTF binary.

Usage (from the repository root):

    blender -b --factory-startup --python-exit-code 1 \
        -P samples/cornell-box/make_cornell_box.py -- [--out samples/cornell-box/cornell-box.glb]

Scene (glTF coordinates, +Y up, metres):
  * box interior x, y, z in [-1, 1]; open at z = +1; the camera sits on +Z looking along -Z
  * white floor / ceiling / back wall, red left wall (x = -1), green right wall (x = +1)
  * area light: a 0.5 x 0.4 emissive quad 0.005 below the ceiling, facing down
    (emissiveFactor 1,1,1 x KHR_materials_emissive_strength = EMISSION_STRENGTH; the value is radiance)
  * a tall white box (back left) and an animated gold sphere (front) moving over frames 1-24
  * a perspective camera, yfov 39.3 deg, aspect 1:1
  * no punctual lights: the scene is lit by the emissive quad only

Frame convention: renderer frame N is glTF time (N - 1) / 24 s.  Blender's exporter writes
time = blender_frame / fps, so renderer frame N is keyed here on Blender frame N - 1 (0..23),
and the scene frame range is set to 0..23 so the export covers exactly those 24 samples.

Working is done in Blender's Z-up space; the exporter converts (x, y, z)_blender to
(x, z, -y)_glTF.  So glTF +Z (towards the camera) is Blender -Y.
"""

import argparse
import math
import os
import sys

import bpy
from mathutils import Euler, Matrix, Vector

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from blender_scene import clear_scene  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "cornell-box.glb")

FPS = 24
FRAMES = 24                 # renderer frames 1..24 = Blender frames 0..23
EMISSION_STRENGTH = 15.0    # radiance of the light quad (emissiveFactor is white)
LIGHT_SIZE = (0.5, 0.4)     # light quad extent (glTF x, z)
CAMERA_YFOV_DEG = 39.3
CAMERA_DISTANCE = 3.8       # glTF z of the camera; box opening (half-width 1) fills a 39.3 deg view


def parse_args():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=DEFAULT_OUT, help="output .glb path (default: %(default)s)")
    return p.parse_args(argv)


def g2b(x, y, z):
    """glTF (+Y up) coordinates -> Blender (+Z up) coordinates."""
    return (x, -z, y)


def principled(name, base, roughness=1.0, metallic=0.0, emission=None, strength=0.0):
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*base, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    bsdf.inputs["Metallic"].default_value = metallic
    bsdf.inputs["Specular"].default_value = 0.5
    if emission is not None:
        bsdf.inputs["Emission"].default_value = (*emission, 1.0)
        bsdf.inputs["Emission Strength"].default_value = strength
    else:
        bsdf.inputs["Emission"].default_value = (0.0, 0.0, 0.0, 1.0)
        bsdf.inputs["Emission Strength"].default_value = 0.0
    mat.diffuse_color = (*base, 1.0)
    return mat


def mesh_object(name, verts_gltf, faces, material, smooth=False):
    """Create a mesh object with identity transform from glTF-space vertices."""
    me = bpy.data.meshes.new(name)
    me.from_pydata([g2b(*v) for v in verts_gltf], [], faces)
    me.validate()
    me.update()
    for poly in me.polygons:
        poly.use_smooth = smooth
    me.materials.append(material)
    ob = bpy.data.objects.new(name, me)
    bpy.context.scene.collection.objects.link(ob)
    return ob


def quad(name, corners, material):
    """corners in glTF space, counter-clockwise seen from the side the normal points to."""
    return mesh_object(name, corners, [(0, 1, 2, 3)], material)


def build_box(mats):
    white, red, green = mats["white"], mats["red"], mats["green"]
    # Inward-facing quads (CCW as seen from inside the box).
    quad("Floor", [(-1, -1, 1), (1, -1, 1), (1, -1, -1), (-1, -1, -1)], white)
    quad("Ceiling", [(-1, 1, -1), (1, 1, -1), (1, 1, 1), (-1, 1, 1)], white)
    quad("BackWall", [(-1, -1, -1), (1, -1, -1), (1, 1, -1), (-1, 1, -1)], white)
    quad("LeftWall", [(-1, -1, 1), (-1, -1, -1), (-1, 1, -1), (-1, 1, 1)], red)
    quad("RightWall", [(1, -1, -1), (1, -1, 1), (1, 1, 1), (1, 1, -1)], green)


def build_light(mats):
    hx, hz = LIGHT_SIZE[0] / 2, LIGHT_SIZE[1] / 2
    y = 1.0 - 0.005
    # Normal facing down (-Y): CCW seen from below.
    return quad("AreaLight", [(-hx, y, -hz), (-hx, y, hz), (hx, y, hz), (hx, y, -hz)], mats["light"])


def build_tall_box(mats):
    # 0.6 x 1.2 x 0.6 box standing on the floor at the back left, turned 17 degrees about +Y.
    sx, sy, sz = 0.3, 0.6, 0.3
    cx, cz = -0.38, -0.3
    ang = math.radians(17.0)
    c, s = math.cos(ang), math.sin(ang)
    verts = []
    for (x, y, z) in [(-sx, -sy, -sz), (sx, -sy, -sz), (sx, -sy, sz), (-sx, -sy, sz),
                      (-sx, sy, -sz), (sx, sy, -sz), (sx, sy, sz), (-sx, sy, sz)]:
        # rotation about +Y, then translate so the bottom sits on the floor (y = -1)
        verts.append((c * x + s * z + cx, y - 1.0 + sy, -s * x + c * z + cz))
    faces = [(0, 1, 2, 3), (4, 7, 6, 5), (0, 4, 5, 1), (1, 5, 6, 2), (2, 6, 7, 3), (3, 7, 4, 0)]
    ob = mesh_object("TallBox", verts, faces, mats["white"])
    # make sure the normals point outwards whatever the winding above
    me = ob.data
    centre = sum((v.co for v in me.vertices), Vector()) / len(me.vertices)
    for poly in me.polygons:
        if poly.normal.dot(poly.center - centre) < 0:
            poly.flip()
    me.update()
    return ob


def build_sphere(mats):
    radius = 0.28
    bpy.ops.mesh.primitive_uv_sphere_add(segments=32, ring_count=16, radius=radius, location=(0, 0, 0))
    ob = bpy.context.active_object
    ob.name = "Sphere"
    ob.data.name = "Sphere"
    bpy.ops.object.shade_smooth()
    ob.data.materials.append(mats["gold"])
    ob.rotation_mode = "XYZ"

    # Keys at renderer frames 1, 13, 24 (Blender frames 0, 12, 23), glTF positions.
    keys = [
        (0, (-0.55, -1.0 + radius, 0.35), (0.0, 0.0, 0.0)),
        (12, (0.0, -0.35, 0.45), (0.0, math.radians(90.0), math.radians(-45.0))),
        (23, (0.55, -1.0 + radius, 0.35), (0.0, math.radians(180.0), math.radians(-90.0))),
    ]
    for frame, loc_g, rot_g in keys:
        ob.location = g2b(*loc_g)
        # rotation given as glTF-space XYZ Euler; convert to Blender space via the axis change
        axis = Matrix(((1, 0, 0), (0, 0, -1), (0, 1, 0)))  # glTF -> Blender basis change
        rot_b = (axis @ Euler(rot_g, "XYZ").to_matrix() @ axis.transposed()).to_euler("XYZ")
        ob.rotation_euler = rot_b
        ob.keyframe_insert("location", frame=frame)
        ob.keyframe_insert("rotation_euler", frame=frame)
    # linear interpolation so the glTF samples are easy to reason about
    for fc in ob.animation_data.action.fcurves:
        for kp in fc.keyframe_points:
            kp.interpolation = "LINEAR"
    return ob


def build_camera():
    cam_data = bpy.data.cameras.new("Camera")
    cam_data.type = "PERSP"
    cam_data.sensor_fit = "VERTICAL"
    cam_data.lens_unit = "FOV"
    cam_data.angle_y = math.radians(CAMERA_YFOV_DEG)
    cam_data.clip_start = 0.1
    cam_data.clip_end = 100.0
    cam = bpy.data.objects.new("Camera", cam_data)
    bpy.context.scene.collection.objects.link(cam)
    cam.location = g2b(0.0, 0.0, CAMERA_DISTANCE)
    # Blender cameras look along local -Z; rotate 90 deg about X so it looks along Blender +Y
    # (= glTF -Z), with Blender +Z (= glTF +Y) up.
    cam.rotation_euler = (math.radians(90.0), 0.0, 0.0)
    bpy.context.scene.camera = cam
    return cam


def main():
    args = parse_args()
    out = os.path.abspath(args.out)
    clear_scene()

    scene = bpy.context.scene
    scene.render.fps = FPS
    scene.render.fps_base = 1.0
    scene.frame_start = 0
    scene.frame_end = FRAMES - 1
    scene.render.resolution_x = 512
    scene.render.resolution_y = 512
    scene.render.resolution_percentage = 100
    scene.render.pixel_aspect_x = 1.0
    scene.render.pixel_aspect_y = 1.0

    mats = {
        "white": principled("White", (0.73, 0.73, 0.73)),
        "red": principled("Red", (0.63, 0.065, 0.05)),
        "green": principled("Green", (0.14, 0.45, 0.09)),
        "gold": principled("Gold", (1.0, 0.71, 0.29), roughness=0.3, metallic=1.0),
        "light": principled("Light", (0.73, 0.73, 0.73), emission=(1.0, 1.0, 1.0),
                            strength=EMISSION_STRENGTH),
    }

    build_box(mats)
    build_light(mats)
    build_tall_box(mats)
    build_sphere(mats)
    build_camera()
    scene.frame_set(0)

    tris = sum(len(p.vertices) - 2 for ob in scene.objects if ob.type == "MESH" for p in ob.data.polygons)
    print(f"make_cornell_box: {tris} triangles")

    os.makedirs(os.path.dirname(out), exist_ok=True)
    bpy.ops.export_scene.gltf(
        filepath=out,
        export_format="GLB",
        export_yup=True,
        export_apply=True,
        export_animations=True,
        export_frame_range=True,
        export_force_sampling=True,
        export_cameras=True,
        export_lights=False,
        export_extras=False,
        export_texcoords=True,
        export_normals=True,
        use_selection=False,
    )
    print(f"make_cornell_box: wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
