using System.Globalization;
using RenderFarm.Core;
using RenderFarm.Inference.Onnx;

namespace RenderFarm.Inference;

/// <summary>
/// Conversions between the element types of model inputs and outputs and the float32 the device computes in.
/// </summary>
public static class TensorTypes
{
    /// <summary>The largest integer magnitude a float32 holds exactly (2^24): integer inputs beyond it are refused.</summary>
    public const float MaxExactInteger = 16_777_216f;

    /// <summary>The NumPy-style name of <paramref name="type"/> (float32, int64, bool...).</summary>
    public static string Name(TensorElementType type) => type switch
    {
        TensorElementType.Float32 => "float32",
        TensorElementType.Float16 => "float16",
        TensorElementType.Int64 => "int64",
        TensorElementType.Int32 => "int32",
        TensorElementType.UInt8 => "uint8",
        _ => "bool",
    };

    /// <summary>True for the integer and boolean types.</summary>
    public static bool IsInteger(TensorElementType type) => type is not (TensorElementType.Float32 or TensorElementType.Float16);

    /// <summary>
    /// The values of <paramref name="tensor"/> as the device receives them for an input of <paramref name="type"/>:
    /// float16 inputs are rounded to half precision; integer and boolean inputs are checked to be whole numbers in the
    /// type's range and within ±2^24, so that no value changes on the way.
    /// </summary>
    /// <exception cref="UserInputException">A value does not fit the input's type.</exception>
    public static float[] ToDevice(string name, TensorElementType type, Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        float[] data = tensor.Data;
        switch (type)
        {
            case TensorElementType.Float32:
                return data;
            case TensorElementType.Float16:
            {
                var rounded = new float[data.Length];
                for (int i = 0; i < data.Length; i++)
                {
                    rounded[i] = (float)(Half)data[i];
                }

                return rounded;
            }

            default:
                (float low, float high) = Range(type);
                for (int i = 0; i < data.Length; i++)
                {
                    float v = data[i];
                    if (!(v >= low && v <= high) || v != MathF.Truncate(v))
                    {
                        throw new UserInputException(string.Create(
                            CultureInfo.InvariantCulture,
                            $"Input '{name}' is {Name(type)} but element {i} is {v}; it must be a whole number from {low} to {high}{(type is TensorElementType.Int64 or TensorElementType.Int32 ? " (the engine carries integers exactly up to 2^24)" : string.Empty)}."));
                    }
                }

                return data;
        }
    }

    /// <summary>
    /// A tensor of <paramref name="type"/> from the device's float32 results: integers are rounded (the device computes
    /// them exactly; rounding only removes a sign of zero), booleans are 0 or 1, float16 is rounded to half precision.
    /// </summary>
    public static Tensor FromDevice(IReadOnlyList<int> shape, float[] data, TensorElementType type)
    {
        ArgumentNullException.ThrowIfNull(data);
        switch (type)
        {
            case TensorElementType.Float32:
                break;
            case TensorElementType.Float16:
                for (int i = 0; i < data.Length; i++)
                {
                    data[i] = (float)(Half)data[i];
                }

                break;
            case TensorElementType.Bool:
                for (int i = 0; i < data.Length; i++)
                {
                    data[i] = data[i] != 0 ? 1f : 0f;
                }

                break;
            default:
                for (int i = 0; i < data.Length; i++)
                {
                    data[i] = MathF.Round(data[i]) + 0f;
                }

                break;
        }

        return new Tensor(shape, data, type);
    }

    /// <summary>The type of an ONNX element type code, or null when the engine does not take it as an input or output.</summary>
    internal static TensorElementType? FromOnnx(int code) => (TensorProto.Types.DataType)code switch
    {
        TensorProto.Types.DataType.Float => TensorElementType.Float32,
        TensorProto.Types.DataType.Float16 => TensorElementType.Float16,
        TensorProto.Types.DataType.Int64 => TensorElementType.Int64,
        TensorProto.Types.DataType.Int32 => TensorElementType.Int32,
        TensorProto.Types.DataType.Uint8 => TensorElementType.UInt8,
        TensorProto.Types.DataType.Bool => TensorElementType.Bool,
        _ => null,
    };

    private static (float Low, float High) Range(TensorElementType type) => type switch
    {
        TensorElementType.UInt8 => (0, 255),
        TensorElementType.Bool => (0, 1),
        _ => (-MaxExactInteger, MaxExactInteger),
    };
}
