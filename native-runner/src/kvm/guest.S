# The LiveMig Lab KVM guest: a 64-bit long-mode loop running at CPL3 with IOPL 3 (so its
# `out` exits straight to the host; no guest kernel, no interrupts).
# Assembled with `as --64 guest.S -o g.o && objcopy -O binary -j .text g.o guest.bin`;
# the bytes are embedded in guest.rs (GUEST_CODE) together with the symbol offsets
# (`nm g.o`). Addresses are below 4 GiB, so 32-bit registers hold them (zero-extended).
#
# Registers on entry (set by the host): rsi = parameter block, rsp = stack top,
# ebx = LCG state, ebp = write counter k, edi = read checksum.
# Parameter block (u32 each): 0x00 pick routine address, 0x04 writes this batch W,
# 0x08 reads this batch R, 0x0C ws_start, 0x10 ws_len, 0x14 hot_len, 0x18 cold_len,
# 0x1C hot threshold (P(hot) * 2^32), 0x20 sequential position, 0x24 k (out),
# 0x28 checksum (out), 0x2C batches done (out).
.intel_syntax noprefix
.code64
.text
.globl _start
_start:
top:
    mov ecx, [rsi+4]
    test ecx, ecx
    jz reads
wloop:
    mov eax, [rsi]
    call rax
    mov edx, ebp
    imul edx, edx, 0x9E3779B1
    xor edx, eax
    shl eax, 12
    push rcx
    lea ecx, [rbp*4]
    and ecx, 0xFFC
    mov [rax+rcx], edx
    pop rcx
    inc ebp
    dec ecx
    jnz wloop
reads:
    mov ecx, [rsi+8]
    test ecx, ecx
    jz done
rloop:
    mov eax, [rsi]
    call rax
    shl eax, 12
    mov edx, ebx
    and edx, 0xFFC
    rol edi, 5
    xor edi, [rax+rdx]
    dec ecx
    jnz rloop
done:
    mov [rsi+0x24], ebp
    mov [rsi+0x28], edi
    inc dword ptr [rsi+0x2C]
    out 0x10, al
    jmp top

pick_idle:
    mov eax, [rsi+0x0C]
    ret
pick_seq:
    mov eax, [rsi+0x20]
    lea edx, [rax+1]
    cmp edx, [rsi+0x10]
    jb 1f
    xor edx, edx
1:  mov [rsi+0x20], edx
    add eax, [rsi+0x0C]
    ret
pick_uniform:
    imul ebx, ebx, 1664525
    add ebx, 1013904223
    mov eax, ebx
    mul dword ptr [rsi+0x10]
    mov eax, edx
    add eax, [rsi+0x0C]
    ret
pick_hotcold:
    imul ebx, ebx, 1664525
    add ebx, 1013904223
    mov eax, ebx
    imul ebx, ebx, 1664525
    add ebx, 1013904223
    cmp eax, [rsi+0x1C]
    jae 2f
    mov eax, ebx
    mul dword ptr [rsi+0x14]
    mov eax, edx
    add eax, [rsi+0x0C]
    ret
2:  mov eax, ebx
    mul dword ptr [rsi+0x18]
    mov eax, edx
    add eax, [rsi+0x0C]
    add eax, [rsi+0x14]
    ret
