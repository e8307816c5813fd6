"""Scene-building helpers shared by the sample scripts (samples/*/make_*.py), run inside Blender.

A script imports them after putting this folder on its path:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    from blender_scene import clear_scene, g2b, link
"""

import bpy


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
