"""Build the second-UV-set (TEXCOORD_1) sample and export it as glTF binary.

Usage (from the repository root):

    blender -b --factory-startup --python-exit-code 1 \
        -P samples/texture-features/make_texcoord1.py -- [--out samples/texture-features/texcoord1.glb]

The stage of scene_common.py; the cube has two UV layers, UVMap (each face the whole texture, exported as
TEXCOORD_0) and Tiles (each face the texture three times over, turned a quarter, exported as TEXCOORD_1), and its
base colour samples the checker image through a UV Map node naming Tiles, which Blender's exporter writes as the
texture's texCoord 1. A renderer that samples with TEXCOORD_0 draws one checker per face instead of three.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpy  # noqa: E402
import scene_common as sc  # noqa: E402

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "texcoord1.glb")


def main():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=DEFAULT_OUT)
    out = os.path.abspath(p.parse_args(argv).out)
    sc.clear_scene()
    mat = sc.material("CubeSecondSet", roughness=0.5)
    tex = sc.image_node(mat, sc.checker_image())
    uvmap = mat.node_tree.nodes.new("ShaderNodeUVMap")
    uvmap.uv_map = "Tiles"
    mat.node_tree.links.new(uvmap.outputs["UV"], tex.inputs["Vector"])
    ob = sc.cube(mat)
    me = ob.data
    tiles = me.uv_layers.new(name="Tiles")
    first = me.uv_layers["UVMap"]
    for src, dst in zip(first.data, tiles.data):
        u, v = src.uv
        dst.uv = (3.0 * v, 3.0 * (1.0 - u))
    me.uv_layers.active = first
    first.active_render = True
    sc.stage()
    sc.export(out, "make_texcoord1")


if __name__ == "__main__":
    main()
