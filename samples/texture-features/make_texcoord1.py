"""Build the second-UV-set (TEXCOORD_1) sample and export it as glTF binary.

Usage (from the repository root):

    blender -b --factory-startup --python-exit-code 1 \
        -P samples/texture-features/make_texcoord1.py -- [--out samples/texture-features/texcoord1.glb]

The stage of scene_common.py; the cube and the floor have two UV layers, UVMap (the whole texture on each face,
exported as TEXCOORD_0) and Tiles (exported as TEXCOORD_1: turned a quarter, the texture three times over on each
cube face and 1.5 times over the floor), and their base colour samples the checker image through a UV Map node
naming Tiles, which Blender's exporter writes as the texture's texCoord 1. A renderer that samples with TEXCOORD_0
draws the floor's hue gradient along the other axis and one checker per cube face instead of three.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpy  # noqa: E402
import scene_common as sc  # noqa: E402

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "texcoord1.glb")


def second_set_material(name, image):
    mat = sc.material(name, roughness=0.5)
    tex = sc.image_node(mat, image)
    uvmap = mat.node_tree.nodes.new("ShaderNodeUVMap")
    uvmap.uv_map = "Tiles"
    mat.node_tree.links.new(uvmap.outputs["UV"], tex.inputs["Vector"])
    return mat


def add_tiles(me, scale):
    """The Tiles layer: UVMap turned a quarter and scaled; UVMap stays the active and render layer (TEXCOORD_0)."""
    first = me.uv_layers["UVMap"]
    tiles = me.uv_layers.new(name="Tiles")
    for src, dst in zip(first.data, tiles.data):
        u, v = src.uv
        dst.uv = (scale * v, scale * (1.0 - u))
    me.uv_layers.active = first
    first.active_render = True


def main():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=DEFAULT_OUT)
    out = os.path.abspath(p.parse_args(argv).out)
    sc.clear_scene()
    img = sc.checker_image()
    add_tiles(sc.cube(second_set_material("CubeSecondSet", img)).data, 3.0)
    add_tiles(sc.stage(second_set_material("FloorSecondSet", img)).data, 1.5)
    sc.export(out, "make_texcoord1")


if __name__ == "__main__":
    main()
