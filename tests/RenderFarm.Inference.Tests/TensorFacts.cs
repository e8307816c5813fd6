namespace RenderFarm.Inference.Tests;

public sealed class TensorFacts
{
    [Fact]
    public void Shape_and_data_must_agree()
    {
        var error = Assert.Throws<ArgumentException>(() => new Tensor([2, 3], new float[5]));
        Assert.Contains("[2, 3] holds 6 elements, but 5", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Zeros_has_the_element_count_of_its_shape()
    {
        var tensor = Tensor.Zeros(1, 3, 4, 5);
        Assert.Equal(60, tensor.Length);
        Assert.Equal([1, 3, 4, 5], tensor.Shape);
    }
}
