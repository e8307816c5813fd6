"""Reference view transform: load a linear Radiance .hdr image into Blender and write it as an 8-bit
sRGB PNG through one of Blender's view transforms, exactly as "Save as Render" does (no dither,
exposure 0, gamma 1, look None). `--view filmic` in RenderFarm is compared with this.

Usage:

    blender -b --factory-startup --python-exit-code 1 -P samples/tools/blender_view.py -- \
        --image linear.hdr --view Filmic --out filmic.png
"""

import argparse
import sys

import bpy


def main():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    parser = argparse.ArgumentParser()
    parser.add_argument("--image", required=True)
    parser.add_argument("--view", default="Filmic")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    scene = bpy.context.scene
    scene.display_settings.display_device = "sRGB"
    scene.view_settings.view_transform = args.view
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0
    scene.view_settings.use_curve_mapping = False
    scene.render.dither_intensity = 0.0
    settings = scene.render.image_settings
    settings.file_format = "PNG"
    settings.color_mode = "RGB"
    settings.color_depth = "8"

    image = bpy.data.images.load(args.image)
    image.colorspace_settings.name = "Linear"
    image.save_render(args.out, scene=scene)
    print(f"view: {args.view} {image.size[0]}x{image.size[1]} -> {args.out}")


main()
