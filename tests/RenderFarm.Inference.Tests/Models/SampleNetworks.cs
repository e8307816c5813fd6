namespace RenderFarm.Inference.Tests.Models;

/// <summary>Small networks of the shapes inference users send: a classifier, a super-resolution net, a style-transfer net.</summary>
internal static class SampleNetworks
{
    /// <summary>Conv/BN/Relu/MaxPool ×2, Conv/Relu, GlobalAveragePool, Flatten, Gemm, Softmax: [N,3,32,32] → [N,10].</summary>
    public static ModelBuilder Classifier(int seed, int? batch = 2)
    {
        var random = new Random(seed);
        var b = new ModelBuilder(13, "classifier").Input("image", batch, 3, 32, 32).Output("probabilities");
        string x = "image";
        int channels = 3;
        int stage = 0;
        foreach (int width in new[] { 8, 16 })
        {
            x = Conv(b, random, x, channels, width, 3, $"c{stage}");
            x = BatchNorm(b, random, x, width, $"bn{stage}");
            b.Node("Relu", [x], [$"r{stage}"]);
            b.Node("MaxPool", [$"r{stage}"], [$"p{stage}"], a => a.Ints("kernel_shape", 2, 2).Ints("strides", 2, 2));
            x = $"p{stage}";
            channels = width;
            stage++;
        }

        x = Conv(b, random, x, channels, 32, 3, "c2");
        b.Node("Relu", [x], ["r2"]);
        b.Node("GlobalAveragePool", ["r2"], ["gap"]);
        b.Node("Flatten", ["gap"], ["flat"]);
        b.Initializer("fc_w", [10, 32], Weights(random, 320, 32));
        b.Initializer("fc_b", [10], Weights(random, 10, 32));
        b.Node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], a => a.Int("transB", 1));
        b.Node("Softmax", ["logits"], ["probabilities"], a => a.Int("axis", 1));
        return b;
    }

    /// <summary>The PyTorch super-resolution example's shape: four convolutions and a DepthToSpace by 3: [1,1,H,W] → [1,1,3H,3W].</summary>
    public static ModelBuilder SuperResolution(int seed, int size = 24)
    {
        var random = new Random(seed);
        var b = new ModelBuilder(17, "super_resolution").Input("low", 1, 1, size, size).Output("high");
        string x = Conv(b, random, "low", 1, 16, 5, "c1");
        b.Node("Relu", [x], ["r1"]);
        x = Conv(b, random, "r1", 16, 16, 3, "c2");
        b.Node("Relu", [x], ["r2"]);
        x = Conv(b, random, "r2", 16, 8, 3, "c3");
        b.Node("Relu", [x], ["r3"]);
        x = Conv(b, random, "r3", 8, 9, 3, "c4");
        b.Node("DepthToSpace", [x], ["high"], a => a.Int("blocksize", 3).String("mode", "CRD"));
        return b;
    }

    /// <summary>
    /// A fast-style-transfer shape: reflect padding, 9×9 and strided convolutions with InstanceNormalization, a residual
    /// block, nearest Resize upsampling, a ConvTranspose and a Tanh output scaled to pixel range: [1,3,32,32] → [1,3,64,64].
    /// </summary>
    public static ModelBuilder StyleTransfer(int seed)
    {
        var random = new Random(seed);
        var b = new ModelBuilder(17, "style_transfer").Input("content", 1, 3, 32, 32).Output("stylized");
        string x = ReflectConv(b, random, "content", 3, 8, 9, 4, "e1");
        x = NormRelu(b, random, x, 8, "e1", relu: true);
        x = Conv(b, random, x, 8, 16, 3, "e2", stride: 2);
        x = NormRelu(b, random, x, 16, "e2", relu: true);

        string skip = x;
        x = ReflectConv(b, random, x, 16, 16, 3, 1, "res_a");
        x = NormRelu(b, random, x, 16, "res_a", relu: true);
        x = ReflectConv(b, random, x, 16, 16, 3, 1, "res_b");
        x = NormRelu(b, random, x, 16, "res_b", relu: false);
        b.Node("Add", [skip, x], ["res_out"]);

        b.Floats("roi").Floats("up_scales", 1f, 1f, 2f, 2f);
        b.Node("Resize", ["res_out", "roi", "up_scales"], ["up"], a => a.String("mode", "nearest").String("coordinate_transformation_mode", "asymmetric").String("nearest_mode", "floor"));
        x = ReflectConv(b, random, "up", 16, 8, 3, 1, "d1");
        x = NormRelu(b, random, x, 8, "d1", relu: true);

        b.Initializer("dt_w", [8, 8, 3, 3], Weights(random, 8 * 8 * 9, 8 * 9));
        b.Initializer("dt_b", [8], Weights(random, 8, 72));
        b.Node("ConvTranspose", [x, "dt_w", "dt_b"], ["dt"], a => a.Ints("strides", 2, 2).Ints("pads", 1, 1, 1, 1).Ints("output_padding", 1, 1));
        b.Node("Relu", ["dt"], ["dt_r"]);

        x = ReflectConv(b, random, "dt_r", 8, 3, 9, 4, "out");
        b.Node("Tanh", [x], ["t"]);
        b.Initializer("half_range", [], [127.5f]);
        b.Node("Mul", ["t", "half_range"], ["scaled"]);
        b.Node("Add", ["scaled", "half_range"], ["stylized"]);
        return b;
    }

    public static float[] Weights(Random random, int count, int fanIn)
    {
        float scale = 1f / MathF.Sqrt(fanIn);
        return Oracle.RandomData(random, count, scale);
    }

    private static string Conv(ModelBuilder b, Random random, string x, int inputs, int outputs, int kernel, string name, int stride = 1, bool pad = true)
    {
        int fanIn = inputs * kernel * kernel;
        b.Initializer($"{name}_w", [outputs, inputs, kernel, kernel], Weights(random, outputs * fanIn, fanIn));
        b.Initializer($"{name}_b", [outputs], Weights(random, outputs, fanIn));
        long p = pad ? kernel / 2 : 0;
        b.Node("Conv", [x, $"{name}_w", $"{name}_b"], [$"{name}_y"], a => a.Ints("kernel_shape", kernel, kernel).Ints("pads", p, p, p, p).Ints("strides", stride, stride), name);
        return $"{name}_y";
    }

    private static string ReflectConv(ModelBuilder b, Random random, string x, int inputs, int outputs, int kernel, int padding, string name)
    {
        b.Int64s($"{name}_pads", 0, 0, padding, padding, 0, 0, padding, padding);
        b.Node("Pad", [x, $"{name}_pads"], [$"{name}_padded"], a => a.String("mode", "reflect"));
        return Conv(b, random, $"{name}_padded", inputs, outputs, kernel, name, pad: false);
    }

    private static string BatchNorm(ModelBuilder b, Random random, string x, int channels, string name)
    {
        b.Floats($"{name}_scale", Oracle.RandomData(random, channels).Select(v => 1 + (0.5f * v)).ToArray());
        b.Floats($"{name}_bias", Oracle.RandomData(random, channels, 0.2f));
        b.Floats($"{name}_mean", Oracle.RandomData(random, channels, 0.2f));
        b.Floats($"{name}_var", Oracle.RandomData(random, channels).Select(v => 0.5f + Math.Abs(v)).ToArray());
        b.Node("BatchNormalization", [x, $"{name}_scale", $"{name}_bias", $"{name}_mean", $"{name}_var"], [$"{name}_y"]);
        return $"{name}_y";
    }

    private static string NormRelu(ModelBuilder b, Random random, string x, int channels, string name, bool relu)
    {
        b.Floats($"{name}_in_scale", Oracle.RandomData(random, channels).Select(v => 1 + (0.3f * v)).ToArray());
        b.Floats($"{name}_in_bias", Oracle.RandomData(random, channels, 0.1f));
        b.Node("InstanceNormalization", [x, $"{name}_in_scale", $"{name}_in_bias"], [$"{name}_in"]);
        if (!relu)
        {
            return $"{name}_in";
        }

        b.Node("Relu", [$"{name}_in"], [$"{name}_in_relu"]);
        return $"{name}_in_relu";
    }
}
