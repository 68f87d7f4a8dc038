namespace AspireAi.Core.Redis;

/// <summary>
/// The commands written to one physical connection and not yet answered, in write order. Redis answers in the
/// same order, so the head of the queue owns the next reply, whether or not its caller is still waiting.
/// </summary>
internal sealed class InFlightQueue(string endpoint)
{
    private readonly Lock _lock = new();
    private readonly Queue<PendingCommand> _queue = new();
    private bool _closed;

    /// <summary>Adds the batch in order, skipping commands already completed (timed out or cancelled while queued).</summary>
    /// <returns>False when the connection has already failed; the batch was then failed as not sent.</returns>
    public bool TryAdd(List<PendingCommand> batch)
    {
        lock (_lock)
        {
            if (!_closed)
            {
                foreach (var command in batch)
                {
                    if (!command.IsCompleted)
                    {
                        command.Sent = true;
                        _queue.Enqueue(command);
                    }
                }
                return true;
            }
        }
        // Unlike the in-flight commands failed by Close, these never reached the socket, so "not executed" is certain.
        foreach (var command in batch)
        {
            command.TrySetException(new RedisConnectionException(
                $"The connection to Redis at {endpoint} was lost before {command.Name} was sent; it was not executed."));
        }
        return false;
    }

    /// <summary>Delivers a reply to the oldest in-flight command, or drops it if that caller has given up.</summary>
    /// <exception cref="InvalidDataException">A reply arrived with no command waiting for it.</exception>
    public void Complete(RedisResult reply)
    {
        PendingCommand command;
        lock (_lock)
        {
            if (!_queue.TryDequeue(out command!))
            {
                throw new InvalidDataException("Redis sent a reply with no command waiting for it.");
            }
        }
        if (command.IsCompleted)
        {
            return;
        }
        if (reply.Type == RedisResultType.Error)
        {
            command.TrySetException(new RedisServerException(reply.ErrorMessage!));
        }
        else
        {
            command.TrySetResult(reply);
        }
    }

    /// <summary>
    /// Fails sent commands past their deadline. They stay queued so their late replies are consumed and discarded
    /// instead of being handed to the next caller. The queue is in deadline order, so the scan stops early.
    /// </summary>
    public void ExpireOverdue(long now)
    {
        List<PendingCommand>? overdue = null;
        int inFlight;
        lock (_lock)
        {
            inFlight = _queue.Count;
            foreach (var command in _queue)
            {
                if (command.IsCompleted)
                {
                    continue;
                }
                if (command.Deadline > now)
                {
                    break;
                }
                (overdue ??= []).Add(command);
            }
        }
        if (overdue is null)
        {
            return;
        }
        foreach (var command in overdue)
        {
            command.TrySetException(new RedisTimeoutException(
                $"Redis command {command.Name} timed out waiting for its reply from {endpoint} ({inFlight} command(s) in flight). " +
                "It was sent, so the server may still execute it."));
        }
    }

    /// <summary>Marks the connection dead and fails everything in flight.</summary>
    /// <returns>How many callers were still waiting.</returns>
    public int Close(Exception reason, bool disposing)
    {
        PendingCommand[] failed;
        var waiting = 0;
        lock (_lock)
        {
            _closed = true;
            failed = [.. _queue];
            _queue.Clear();
        }
        foreach (var command in failed)
        {
            if (command.IsCompleted)
            {
                continue;
            }
            var message = disposing
                ? $"The Redis client was disposed while {command.Name} was in flight; the server may or may not have executed it."
                : $"The connection to Redis at {endpoint} was lost while {command.Name} was in flight; the server may or may not have executed it. {reason.Message}";
            if (command.TrySetException(new RedisConnectionException(message, reason)))
            {
                waiting++;
            }
        }
        return waiting;
    }
}
