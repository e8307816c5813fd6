using System.Text;
using RenderFarm.Core;
using RenderFarm.Inference.IO;

namespace RenderFarm.Inference.Tests;

public sealed class NpyFileFacts
{
    // numpy.save(np.array([[-1, -0.5, 0], [0.5, 1, 1.5]], dtype='<f4')), byte for byte: the magic,
    // version 1.0, header length 118 (uint16 LE), the dict padded with 58 spaces and a newline so the
    // data starts at byte 128, then six little-endian float32 values.
    private static readonly byte[] s_float32Version1 = Concat(
        [0x93, .. "NUMPY"u8, 0x01, 0x00, 0x76, 0x00],
        Encoding.ASCII.GetBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + new string(' ', 58) + "\n"),
        Convert.FromHexString("000080bf000000bf000000000000003f0000803f0000c03f"));

    [Fact]
    public void Reads_a_version_1_float32_file_laid_out_as_the_format_specifies()
    {
        Assert.Equal(128 + 24, s_float32Version1.Length);

        Tensor tensor = NpyFile.Parse(s_float32Version1, "a.npy");

        Assert.Equal([2, 3], tensor.Shape);
        Assert.Equal([-1f, -0.5f, 0f, 0.5f, 1f, 1.5f], tensor.Data);
    }

    [Fact]
    public void Writes_the_same_bytes_numpy_writes_for_a_float32_array()
    {
        var tensor = new Tensor([2, 3], [-1f, -0.5f, 0f, 0.5f, 1f, 1.5f]);

        Assert.Equal(s_float32Version1, NpyFile.Format(tensor));
    }

    [Theory]
    [InlineData(new int[0], "()")]
    [InlineData(new[] { 5 }, "(5,)")]
    [InlineData(new[] { 1, 3, 224, 224 }, "(1, 3, 224, 224)")]
    [InlineData(new[] { 2, 0, 4 }, "(2, 0, 4)")]
    public void Written_headers_are_python_tuples_and_the_data_starts_on_a_64_byte_boundary(int[] shape, string tuple)
    {
        long count = shape.Aggregate(1L, (c, d) => c * d);
        var tensor = new Tensor(shape, [.. Enumerable.Range(0, (int)count).Select(i => i * 0.25f)]);

        byte[] bytes = NpyFile.Format(tensor);

        int headerLength = bytes[8] | (bytes[9] << 8);
        string header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        Assert.Equal(0, (10 + headerLength) % 64);
        Assert.StartsWith($"{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}", header, StringComparison.Ordinal);
        Assert.EndsWith(" \n", header, StringComparison.Ordinal);
        Assert.Equal(10 + headerLength + (count * 4), bytes.Length);
        Tensor back = NpyFile.Parse(bytes, "x.npy");
        Assert.Equal(shape, back.Shape);
        Assert.Equal(tensor.Data, back.Data);
    }

    [Fact]
    public void Reads_big_endian_float64_from_a_version_2_header()
    {
        byte[] file = Npy(2, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", Convert.FromHexString("3ff8000000000000c002000000000000"));

        Tensor tensor = NpyFile.Parse(file, "b.npy");

        Assert.Equal([2], tensor.Shape);
        Assert.Equal([1.5f, -2.25f], tensor.Data);
    }

    [Fact]
    public void Reads_little_endian_int64_and_big_endian_int32()
    {
        Tensor longs = NpyFile.Parse(
            Npy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", Convert.FromHexString("fdffffffffffffff00000000000000000000000000010000")),
            "i8.npy");
        Tensor ints = NpyFile.Parse(
            Npy(1, "{'descr': '>i4', 'fortran_order': False, 'shape': (1, 2), }", Convert.FromHexString("00000007fffffff8")),
            "i4.npy");

        Assert.Equal([-3f, 0f, 1099511627776f], longs.Data);
        Assert.Equal([1, 2], ints.Shape);
        Assert.Equal([7f, -8f], ints.Data);
    }

    [Fact]
    public void Reads_uint8_whose_byte_order_is_not_applicable()
    {
        Tensor tensor = NpyFile.Parse(Npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", [0, 1, 128, 255]), "u1.npy");

        Assert.Equal([0f, 1f, 128f, 255f], tensor.Data);
    }

    [Fact]
    public void Reads_a_version_3_header_in_utf8_with_keys_in_any_order_and_a_scalar_shape()
    {
        // Version 3.0 only differs from 2.0 by allowing UTF-8 in the header (e.g. structured field names).
        byte[] file = Npy(3, "{\"shape\": (), 'fortran_order': False, 'descr': '<f4', 'note': 'café'}", Convert.FromHexString("0000c03f"));

        Tensor tensor = NpyFile.Parse(file, "c.npy");

        Assert.Empty(tensor.Shape);
        Assert.Equal([1.5f], tensor.Data);
    }

    [Fact]
    public void Refuses_fortran_order_and_says_how_to_fix_it()
    {
        byte[] file = Npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", new byte[16]);

        var error = Assert.Throws<UserInputException>(() => NpyFile.Parse(file, "f.npy"));

        Assert.Equal("f.npy: the array is stored in Fortran (column-major) order; save it in C order, e.g. np.save(path, np.ascontiguousarray(a)).", error.Message);
    }

    [Theory]
    [InlineData("<c8")]
    [InlineData("<u4")]
    [InlineData("|O")]
    [InlineData("<U3")]
    [InlineData("|f4")]
    public void Refuses_other_dtypes_and_lists_the_supported_ones(string dtype)
    {
        byte[] file = Npy(1, $"{{'descr': '{dtype}', 'fortran_order': False, 'shape': (1,), }}", new byte[16]);

        var error = Assert.Throws<UserInputException>(() => NpyFile.Parse(file, "d.npy"));

        Assert.Equal($"d.npy: the .npy dtype '{dtype}' is not supported; use float32, float64, float16, int64, int32, uint8 or bool (e.g. a.astype(np.float32)).", error.Message);
    }

    [Fact]
    public void Refuses_a_file_whose_data_is_shorter_than_its_shape()
    {
        byte[] file = Npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", new byte[20]);

        var error = Assert.Throws<UserInputException>(() => NpyFile.Parse(file, "t.npy"));

        Assert.Equal("t.npy: not a valid .npy file: an array of shape (2, 3) needs 24 bytes of data but the file has 20.", error.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0, 0, 0, 0, 0, 0 }, "not a .npy file (it does not start with the NumPy magic bytes")]
    [InlineData(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 4, 0, 0, 0 }, ".npy format version 4.0 is not supported")]
    [InlineData(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, 200, 0 }, "the header says it is 200 bytes long but the file ends before that")]
    public void Refuses_what_is_not_a_npy_file(byte[] bytes, string expected)
    {
        var error = Assert.Throws<UserInputException>(() => NpyFile.Parse(bytes, "x.npy"));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{'descr': '<f4', 'shape': (2,), }", "no 'fortran_order'")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", "not a Python dict literal")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2,) ", "not a Python dict literal")]
    public void Refuses_a_malformed_header(string header, string expected)
    {
        var error = Assert.Throws<UserInputException>(() => NpyFile.Parse(Npy(1, header, new byte[8]), "h.npy"));

        Assert.StartsWith("h.npy: not a valid .npy file: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_header_gives_type_order_and_shape_without_the_data()
    {
        string path = Path.Combine(Path.GetTempPath(), $"npy-{Guid.NewGuid():N}.npy");
        File.WriteAllBytes(path, Npy(2, "{'descr': '>f8', 'fortran_order': False, 'shape': (1, 2), }", new byte[16]));
        try
        {
            NpyHeader header = NpyFile.ReadHeader(path);

            Assert.Equal(NpyDataType.Float64, header.DataType);
            Assert.False(header.LittleEndian);
            Assert.Equal([1, 2], header.Shape);
            Assert.Equal(2, NpyFile.Read(path).Length);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_missing_file_is_one_user_error()
    {
        var error = Assert.Throws<UserInputException>(() => NpyFile.Read("/nonexistent/input.npy"));

        Assert.Equal("/nonexistent/input.npy: no such file.", error.Message);
    }

    /// <summary>A .npy file of version <paramref name="major"/>.0 with <paramref name="dictionary"/> padded to 64 bytes.</summary>
    private static byte[] Npy(byte major, string dictionary, byte[] data)
    {
        int lengthBytes = major == 1 ? 2 : 4;
        byte[] text = Encoding.UTF8.GetBytes(dictionary);
        int padding = (64 - ((8 + lengthBytes + text.Length + 1) % 64)) % 64;
        byte[] header = [.. text, .. Enumerable.Repeat((byte)' ', padding), (byte)'\n'];
        byte[] length = lengthBytes == 2
            ? [(byte)header.Length, (byte)(header.Length >> 8)]
            : [(byte)header.Length, (byte)(header.Length >> 8), (byte)(header.Length >> 16), (byte)(header.Length >> 24)];
        return Concat([0x93, .. "NUMPY"u8, major, 0x00], length, header, data);
    }

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];
}
