"""Scene-building helpers shared by the sample scripts (samples/*/make_*.py), run inside Blender.

A script imports them after putting this folder on its path:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    from blender_scene import camera, clear_scene, g2b, link, material, quad
"""

import math

import bpy
from mathutils import Vector


def g2b(x, y, z):
    """glTF (+Y up) -> Blender (+Z up)."""
    return (x, -z, y)


def clear_scene():
    bpy.ops.object.select_all(action="SELECT")
    bpy.ops.object.delete()
    for coll in (bpy.data.meshes, bpy.data.materials, bpy.data.cameras, bpy.data.lights,
                 bpy.data.images, bpy.data.actions):
        for block in list(coll):
            coll.remove(block)


def link(ob):
    bpy.context.scene.collection.objects.link(ob)
    return ob


def material(name, base=(0.8, 0.8, 0.8), roughness=1.0, metallic=0.0, alpha=1.0, image=None, image_alpha=False,
             emission=None, strength=0.0, single_sided=False):
    """A Principled BSDF material as the glTF exporter reads it.

    base: linear RGB base colour, or an image (linear filtering) in its place; image_alpha also takes the image's
    alpha as a cut-out mask (alpha mode MASK). alpha below 1 blends (alpha mode BLEND). emission x strength is the
    emitted radiance (emissiveFactor and KHR_materials_emissive_strength). single_sided exports doubleSided false.
    """
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nt = mat.node_tree
    bsdf = nt.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*base, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    bsdf.inputs["Metallic"].default_value = metallic
    bsdf.inputs["Alpha"].default_value = alpha
    if alpha < 1.0:
        mat.blend_method = "BLEND"
    if image is not None:
        tex = nt.nodes.new("ShaderNodeTexImage")
        tex.image = image
        tex.interpolation = "Linear"
        tex.location = (-350, 300)
        nt.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
        if image_alpha:
            nt.links.new(tex.outputs["Alpha"], bsdf.inputs["Alpha"])
            mat.blend_method = "CLIP"
    if emission is not None:
        bsdf.inputs["Emission"].default_value = (*emission, 1.0)
        bsdf.inputs["Emission Strength"].default_value = strength
    # The exporter writes doubleSided = not use_backface_culling.
    mat.use_backface_culling = single_sided
    return mat


def quad(name, corners, mat, uv_scale=1.0):
    """A one-face mesh object from four glTF-space corners, counter-clockwise seen from the side its normal points to.

    Its UVMap holds the unit square (corner 0 at (0, 0), 1 at (1, 0), 2 at (1, 1)) times uv_scale; no UVMap when
    uv_scale is None.
    """
    me = bpy.data.meshes.new(name)
    me.from_pydata([g2b(*c) for c in corners], [], [(0, 1, 2, 3)])
    if uv_scale is not None:
        uv = me.uv_layers.new(name="UVMap")
        for loop, (u, v) in zip(uv.data, [(0, 0), (1, 0), (1, 1), (0, 1)]):
            loop.uv = (u * uv_scale, v * uv_scale)
    me.materials.append(mat)
    me.update()
    return link(bpy.data.objects.new(name, me))


def camera(name, position, target):
    """A perspective camera object, yfov 40 deg (sensor fit VERTICAL, so the exporter writes that yfov), at the glTF-space
    position and looking at the glTF-space target with glTF +Y up. The scene's camera only when the caller makes it so.
    """
    data = bpy.data.cameras.new(name)
    data.sensor_fit = "VERTICAL"
    data.lens_unit = "FOV"
    data.angle_y = math.radians(40.0)
    cam = link(bpy.data.objects.new(name, data))
    cam.location = g2b(*position)
    cam.rotation_euler = (Vector(g2b(*target)) - cam.location).to_track_quat("-Z", "Y").to_euler()
    return cam
