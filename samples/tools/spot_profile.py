"""Measures Cycles' spot light profile: a 1000 W spot (cone 60 degrees, blend 0.5, radius 0) 2 units above a white
diffuse plane, seen from above; prints, along a line from the centre, Cycles' pixel / centre pixel beside three
models: cosine x smoothstep over (1 - cos outer) x blend (what RenderFarm uses), the same without the cosine, and
the glTF specification's recommended falloff with Blender's exported inner angle.

Usage: blender -b --factory-startup -P samples/tools/spot_profile.py
"""
import math
import os
import tempfile

import bpy
bpy.ops.object.select_all(action="SELECT"); bpy.ops.object.delete()
sc = bpy.context.scene
sc.render.engine = "CYCLES"; sc.cycles.device = "CPU"; sc.cycles.samples = 16; sc.cycles.use_denoising = False
sc.cycles.max_bounces = 0
sc.render.resolution_x = 101; sc.render.resolution_y = 1
sc.world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0
bpy.ops.mesh.primitive_plane_add(size=20)
mat = bpy.data.materials.new("w"); mat.use_nodes = True
b = mat.node_tree.nodes["Principled BSDF"]; b.inputs["Base Color"].default_value = (1,1,1,1); b.inputs["Roughness"].default_value = 1; b.inputs["Specular"].default_value = 0
bpy.context.active_object.data.materials.append(mat)
ld = bpy.data.lights.new("s", "SPOT"); ld.energy = 1000; ld.spot_size = math.radians(60); ld.spot_blend = 0.5; ld.shadow_soft_size = 0
lo = bpy.data.objects.new("s", ld); sc.collection.objects.link(lo); lo.location = (0,0,2)
cd = bpy.data.cameras.new("c"); cd.type = "ORTHO"; cd.ortho_scale = 5
co = bpy.data.objects.new("c", cd); sc.collection.objects.link(co); co.location = (0,0,10); sc.camera = co
sc.view_settings.view_transform = "Standard"
sc.render.image_settings.file_format = "OPEN_EXR"; sc.render.image_settings.color_depth = "32"
output = os.path.join(tempfile.mkdtemp(), "spot.exr")
sc.render.filepath = output
bpy.ops.render.render(write_still=True)
img = bpy.data.images.load(output)
px = list(img.pixels)
vals = [px[i*4] for i in range(101)]
h = 2.0
c = vals[50]
cosOuter = math.cos(math.radians(30)); smooth = (1 - cosOuter) * 0.5
def ss(t): t = max(0, min(1, t)); return t*t*(3-2*t)
for i in range(50, 101, 3):
    x = (i + 0.5 - 50.5) / 101 * 5
    d = math.sqrt(h*h + x*x); cosA = h / d
    base = cosA / (d*d)  # incidence cos / d^2
    spot = 0 if cosA <= cosOuter else (ss((cosA - cosOuter)/smooth) if cosA - cosOuter < smooth else 1)
    A = base * cosA * spot; B = base * spot
    inner = math.radians(30) * (1 - 0.5)  # Blender's exporter: inner = outer - outer * blend
    g = max(0.0, min(1.0, (cosA - cosOuter) / (math.cos(inner) - cosOuter))) ** 2
    C = base * g
    print(f"PROBE x={x:.3f} cycles={vals[i]/c:.4f} withcos={A/(1/(h*h)):.4f} nocos={B/(1/(h*h)):.4f} gltf={C/(1/(h*h)):.4f}")
