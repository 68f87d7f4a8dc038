using System.Buffers.Binary;
using System.Text;

namespace AspireAi.Offline;

/// <summary>
/// Rewrites the float32 MiniLM graph into its dynamically quantized form, as ONNX Runtime's own
/// <c>quantize_dynamic</c> would: each <c>MatMul</c> whose weight is a 2-D float initializer becomes the contrib
/// operator <c>com.microsoft.DynamicQuantizeMatMul</c> (activations quantized to uint8 per run, weights stored as
/// int8 with one symmetric scale per output column), so the matrix products run as 8-bit integer dot products
/// (AVX-512 VNNI / AMX on this machine) and read a quarter of the weight bytes. Everything else is copied byte for byte.
/// </summary>
/// <remarks>
/// The model is edited at the protobuf wire level: only the fields read here (ModelProto.graph and opset_import,
/// GraphProto.node and initializer, NodeProto inputs/outputs/op_type, TensorProto dims/data_type/name/raw_data) are
/// interpreted; every other field is passed through unchanged, so no ONNX schema has to be vendored.
/// </remarks>
internal static class MiniLmQuantizer
{
    /// <summary>Part of the cached file's name: a change to the rewrite produces a new file instead of reusing an old one.</summary>
    public const int Version = 1;

    private const int FloatType = 1;
    private const int Int8Type = 3;

    public static byte[] Quantize(ReadOnlySpan<byte> model)
    {
        var fields = Read(model);
        var graphField = fields.SingleOrDefault(f => f.Number == 7)
            ?? throw new InvalidDataException("The ONNX model has no graph.");
        if (fields.Any(f => f.Number == 8 && Read(f.Bytes).Any(o => o.Number == 1 && Encoding.UTF8.GetString(o.Bytes) == "com.microsoft")))
        {
            throw new InvalidDataException("The ONNX model already imports com.microsoft; it is not the float model this expects.");
        }

        using var output = new MemoryStream();
        foreach (var field in fields)
        {
            if (field.Number == 7)
            {
                WriteBytes(output, 7, QuantizeGraph(graphField.Bytes));
            }
            else
            {
                field.WriteTo(output);
            }
        }

        // opset_import { domain: "com.microsoft", version: 1 }
        using var opset = new MemoryStream();
        WriteBytes(opset, 1, Encoding.UTF8.GetBytes("com.microsoft"));
        WriteVarintField(opset, 2, 1);
        WriteBytes(output, 8, opset.ToArray());
        return output.ToArray();
    }

    private static byte[] QuantizeGraph(byte[] graph)
    {
        var fields = Read(graph);
        // Parsed once, in field order: the rewrite below walks the fields again and takes these in turn.
        var tensors = fields.Where(f => f.Number == 5).Select(f => Tensor.Parse(f.Bytes)).ToList();
        var nodes = fields.Where(f => f.Number == 1).Select(f => Node.Parse(f.Bytes)).ToList();
        var initializers = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var tensor in tensors)
        {
            initializers[tensor.Name] = tensor;
        }

        // An initializer that is also a graph input (ValueInfoProto.name) can be overridden at run time: left float.
        var graphInputs = fields.Where(f => f.Number == 11)
            .SelectMany(f => Read(f.Bytes).Where(v => v.Number == 1).Select(v => Encoding.UTF8.GetString(v.Bytes)))
            .ToHashSet(StringComparer.Ordinal);
        var uses = nodes.SelectMany(n => n.Inputs).CountBy(i => i, StringComparer.Ordinal).ToDictionary(StringComparer.Ordinal);
        var weightUses = nodes.Where(IsWeightProduct).CountBy(n => n.Inputs[1], StringComparer.Ordinal).ToDictionary(StringComparer.Ordinal);
        var quantized = new Dictionary<string, (Tensor Weights, Tensor Scales, Tensor ZeroPoints)>(StringComparer.Ordinal);
        foreach (var node in nodes.Where(IsWeightProduct))
        {
            if (initializers.TryGetValue(node.Inputs[1], out var weight) && weight.DataType == FloatType && weight.Dims.Count == 2
                && weight.Raw is not null && !graphInputs.Contains(weight.Name) && !quantized.ContainsKey(weight.Name))
            {
                quantized[weight.Name] = QuantizeWeights(weight);
            }
        }

        using var output = new MemoryStream();
        var (nextNode, nextTensor) = (0, 0);
        foreach (var field in fields)
        {
            if (field.Number == 1)
            {
                var node = nodes[nextNode++];
                if (IsWeightProduct(node) && quantized.TryGetValue(node.Inputs[1], out var q))
                {
                    WriteBytes(output, 1, node.AsDynamicQuantizeMatMul(q.Weights.Name, q.Scales.Name, q.ZeroPoints.Name));
                    continue;
                }
            }
            else if (field.Number == 5)
            {
                var name = tensors[nextTensor++].Name;
                // A weight only the quantized products read is replaced by its int8 form.
                if (quantized.ContainsKey(name) && uses[name] == weightUses[name])
                {
                    continue;
                }
            }
            field.WriteTo(output);
        }

        foreach (var (weights, scales, zeroPoints) in quantized.Values)
        {
            WriteBytes(output, 5, weights.Serialize());
            WriteBytes(output, 5, scales.Serialize());
            WriteBytes(output, 5, zeroPoints.Serialize());
        }
        return output.ToArray();
    }

    private static bool IsWeightProduct(Node node) => node.OpType == "MatMul" && node.Domain.Length == 0 && node.Inputs.Count == 2;

    // Symmetric per-column int8: w ≈ scale[n] × q[k, n], q in [-127, 127], zero point 0.
    private static (Tensor Weights, Tensor Scales, Tensor ZeroPoints) QuantizeWeights(Tensor weight)
    {
        var rows = checked((int)weight.Dims[0]);
        var columns = checked((int)weight.Dims[1]);
        var values = new float[rows * columns];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(weight.Raw.AsSpan(i * 4, 4));
        }

        var scales = new float[columns];
        for (var n = 0; n < columns; n++)
        {
            var max = 0f;
            for (var k = 0; k < rows; k++)
            {
                max = Math.Max(max, Math.Abs(values[k * columns + n]));
            }
            scales[n] = max > 0 ? max / 127f : 1f;
        }

        var q = new byte[values.Length];
        for (var k = 0; k < rows; k++)
        {
            for (var n = 0; n < columns; n++)
            {
                q[k * columns + n] = unchecked((byte)(sbyte)Math.Clamp(MathF.Round(values[k * columns + n] / scales[n]), -127, 127));
            }
        }

        var scaleBytes = new byte[columns * 4];
        for (var n = 0; n < columns; n++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(scaleBytes.AsSpan(n * 4), scales[n]);
        }
        return (new Tensor(weight.Name + "_quantized", Int8Type, weight.Dims, q),
            new Tensor(weight.Name + "_scale", FloatType, [columns], scaleBytes),
            new Tensor(weight.Name + "_zero_point", Int8Type, [columns], new byte[columns]));
    }

    private sealed record Field(int Number, int WireType, ulong Varint, byte[] Bytes)
    {
        public void WriteTo(Stream output)
        {
            switch (WireType)
            {
                case 0:
                    WriteVarintField(output, Number, Varint);
                    break;
                case 2:
                    WriteBytes(output, Number, Bytes);
                    break;
                default:
                    WriteVarint(output, ((ulong)Number << 3) | (uint)WireType);
                    output.Write(Bytes);
                    break;
            }
        }
    }

    private sealed record Node(List<Field> Fields, List<string> Inputs, string OpType, string Domain)
    {
        public static Node Parse(byte[] bytes)
        {
            var fields = Read(bytes);
            return new Node(fields,
                [.. fields.Where(f => f.Number == 1).Select(f => Encoding.UTF8.GetString(f.Bytes))],
                fields.Where(f => f.Number == 4).Select(f => Encoding.UTF8.GetString(f.Bytes)).SingleOrDefault() ?? "",
                fields.Where(f => f.Number == 7).Select(f => Encoding.UTF8.GetString(f.Bytes)).SingleOrDefault() ?? "");
        }

        // Same outputs and name; inputs A, B (int8), b_scale, b_zero_point; op type and domain replaced.
        public byte[] AsDynamicQuantizeMatMul(string weights, string scales, string zeroPoints)
        {
            using var output = new MemoryStream();
            WriteBytes(output, 1, Encoding.UTF8.GetBytes(Inputs[0]));
            WriteBytes(output, 1, Encoding.UTF8.GetBytes(weights));
            WriteBytes(output, 1, Encoding.UTF8.GetBytes(scales));
            WriteBytes(output, 1, Encoding.UTF8.GetBytes(zeroPoints));
            foreach (var field in Fields.Where(f => f.Number is 2 or 3))
            {
                field.WriteTo(output);
            }
            WriteBytes(output, 4, "DynamicQuantizeMatMul"u8.ToArray());
            WriteBytes(output, 7, "com.microsoft"u8.ToArray());
            return output.ToArray();
        }
    }

    private sealed record Tensor(string Name, int DataType, List<long> Dims, byte[]? Raw)
    {
        public static Tensor Parse(byte[] bytes)
        {
            var fields = Read(bytes);
            var dims = new List<long>();
            foreach (var field in fields.Where(f => f.Number == 1))
            {
                if (field.WireType == 0)
                {
                    dims.Add((long)field.Varint);
                }
                else
                {
                    // Packed dims.
                    var position = 0;
                    while (position < field.Bytes.Length)
                    {
                        dims.Add((long)ReadVarint(field.Bytes, ref position));
                    }
                }
            }
            return new Tensor(
                fields.Where(f => f.Number == 8).Select(f => Encoding.UTF8.GetString(f.Bytes)).SingleOrDefault() ?? "",
                (int)(fields.Where(f => f.Number == 2).Select(f => f.Varint).SingleOrDefault()),
                dims,
                fields.Where(f => f.Number == 9).Select(f => f.Bytes).SingleOrDefault());
        }

        public byte[] Serialize()
        {
            using var output = new MemoryStream();
            foreach (var dim in Dims)
            {
                WriteVarintField(output, 1, (ulong)dim);
            }
            WriteVarintField(output, 2, (ulong)DataType);
            WriteBytes(output, 8, Encoding.UTF8.GetBytes(Name));
            WriteBytes(output, 9, Raw ?? []);
            return output.ToArray();
        }
    }

    private static List<Field> Read(ReadOnlySpan<byte> bytes)
    {
        var fields = new List<Field>();
        var position = 0;
        var array = bytes.ToArray();
        while (position < array.Length)
        {
            var key = ReadVarint(array, ref position);
            var number = (int)(key >> 3);
            var wireType = (int)(key & 7);
            switch (wireType)
            {
                case 0:
                    fields.Add(new Field(number, 0, ReadVarint(array, ref position), []));
                    break;
                case 1:
                    fields.Add(new Field(number, 1, 0, array[position..(position + 8)]));
                    position += 8;
                    break;
                case 2:
                    var length = checked((int)ReadVarint(array, ref position));
                    fields.Add(new Field(number, 2, 0, array[position..(position + length)]));
                    position += length;
                    break;
                case 5:
                    fields.Add(new Field(number, 5, 0, array[position..(position + 4)]));
                    position += 4;
                    break;
                default:
                    throw new InvalidDataException($"Unsupported protobuf wire type {wireType} in the ONNX model.");
            }
        }
        return fields;
    }

    private static ulong ReadVarint(byte[] bytes, ref int position)
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = bytes[position++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }
        throw new InvalidDataException("A protobuf varint in the ONNX model is too long.");
    }

    private static void WriteVarint(Stream output, ulong value)
    {
        while (value >= 0x80)
        {
            output.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        output.WriteByte((byte)value);
    }

    private static void WriteVarintField(Stream output, int number, ulong value)
    {
        WriteVarint(output, (ulong)number << 3);
        WriteVarint(output, value);
    }

    private static void WriteBytes(Stream output, int number, ReadOnlySpan<byte> bytes)
    {
        WriteVarint(output, ((ulong)number << 3) | 2);
        WriteVarint(output, (ulong)bytes.Length);
        output.Write(bytes);
    }
}
