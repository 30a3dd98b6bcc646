# The LiveMig Lab KVM guest: a 32-bit flat protected-mode loop (no paging, CPL0).
# Assembled with `as --32 guest.S -o g.o && objcopy -O binary -j .text g.o guest.bin`;
# the bytes are embedded in guest.rs (GUEST_CODE) together with the symbol offsets below.
#
# Registers on entry (set by the host): esi = parameter block, esp = stack top,
# ebx = LCG state, ebp = write counter k, edi = read checksum.
# Parameter block (u32 each): 0x00 pick routine address, 0x04 writes this batch W,
# 0x08 reads this batch R, 0x0C ws_start, 0x10 ws_len, 0x14 hot_len, 0x18 cold_len,
# 0x1C hot threshold (P(hot) * 2^32), 0x20 sequential position, 0x24 k (out),
# 0x28 checksum (out), 0x2C batches done (out).
.intel_syntax noprefix
.code32
.text
.globl _start
_start:
top:
    mov ecx, [esi+4]
    test ecx, ecx
    jz reads
wloop:
    call dword ptr [esi]
    mov edx, ebp
    imul edx, edx, 0x9E3779B1
    xor edx, eax
    shl eax, 12
    push ecx
    lea ecx, [ebp*4]
    and ecx, 0xFFC
    mov [eax+ecx], edx
    pop ecx
    inc ebp
    dec ecx
    jnz wloop
reads:
    mov ecx, [esi+8]
    test ecx, ecx
    jz done
rloop:
    call dword ptr [esi]
    shl eax, 12
    mov edx, ebx
    and edx, 0xFFC
    rol edi, 5
    xor edi, [eax+edx]
    dec ecx
    jnz rloop
done:
    mov [esi+0x24], ebp
    mov [esi+0x28], edi
    inc dword ptr [esi+0x2C]
    out 0x10, al
    jmp top

pick_idle:
    mov eax, [esi+0x0C]
    ret
pick_seq:
    mov eax, [esi+0x20]
    lea edx, [eax+1]
    cmp edx, [esi+0x10]
    jb 1f
    xor edx, edx
1:  mov [esi+0x20], edx
    add eax, [esi+0x0C]
    ret
pick_uniform:
    imul ebx, ebx, 1664525
    add ebx, 1013904223
    mov eax, ebx
    mul dword ptr [esi+0x10]
    mov eax, edx
    add eax, [esi+0x0C]
    ret
pick_hotcold:
    imul ebx, ebx, 1664525
    add ebx, 1013904223
    mov eax, ebx
    imul ebx, ebx, 1664525
    add ebx, 1013904223
    cmp eax, [esi+0x1C]
    jae 2f
    mov eax, ebx
    mul dword ptr [esi+0x14]
    mov eax, edx
    add eax, [esi+0x0C]
    ret
2:  mov eax, ebx
    mul dword ptr [esi+0x18]
    mov eax, edx
    add eax, [esi+0x0C]
    add eax, [esi+0x14]
    ret
