# LiveMig Lab: the QEMU peer's guest. A no-OS program that QEMU boots with `-kernel` (multiboot),
# that enters 64-bit long mode, drops to user mode (CPL3, IOPL 3, interrupts off) and there runs
# the scenario's workload: writes and reads of 4 KiB pages in the scenario's pattern, paced by the
# TSC, so that QEMU has something real to migrate and the host can check the result page by page.
#
# Built by native-runner/build.rs with GNU binutils:
#     as --64 guest.S -o guest.o
#     ld -m elf_x86_64 -Ttext=0x100000 -e entry32 -o guest.elf guest.o
#     objcopy -O binary -j .text guest.elf guest.bin
# build.rs also reads the symbol table (`nm`) and hands the addresses of `params`, `area_base`...
# to Rust (native-runner/src/qemu/guest.rs), which patches the parameter block in a copy of
# guest.bin before each run and replays the guest's writes to check QEMU's work.
#
# Why it looks like this (this machine's KVM is PVM, see /work/shared/KVM.md): guest user-mode
# (CPL3) code runs natively on the CPU, guest kernel-mode (CPL0) code is emulated instruction by
# instruction. So the kernel part is as short as possible (about 20 instructions, no loops: the
# page tables are data in the image, not built at run time) and everything that runs for long is
# at CPL3. There is no IDT, no interrupts and no exception handler: any fault is a triple fault,
# and QEMU (started with -no-reboot) exits, which the host reports as a crash.
#
# Memory map (guest-physical = virtual, identity-mapped with 2 MiB pages over the first 4 GiB):
#   0x00100000  this image (loaded there by QEMU's multiboot loader): header, code, GDT,
#               parameter block and control block (one page), page tables, stacks
#   0x00400000  the "used area": page i of the workload is at area_base + i * 4096
#
# Privilege drop under PVM (tried on this project's machine, QEMU 7.2 with -accel kvm):
#   * a 32-bit protected-mode IRET fails in PVM's emulator (KVM.md), so it is not tried here;
#   * IRETQ in 64-bit mode (P_DROP = 0): WORKS, the guest reports cpl=3. The default.
#   * LRETQ, a REX.W far return to CPL3 (P_DROP = 1): FAILS, QEMU stops with "KVM internal
#     error. Suberror: 1 ... emulation failure": PVM's emulator does not implement it;
#   * SYSRETQ (P_DROP = 2): WORKS as well.
# The host chooses the method in the parameter block, so the experiment can be repeated.

.intel_syntax noprefix

# Multiboot v1 header fields (the multiboot specification, section 3.1.1). Flag bit 16 says the
# header carries the load addresses itself ("a.out kludge"), so the image can be a flat binary:
# QEMU's loader (hw/i386/multiboot.c) refuses 64-bit ELF files but accepts this.
.set MB_MAGIC, 0x1BADB002
.set MB_FLAGS, 0x00010000
.set MB_CHECKSUM, (0x100000000 - (MB_MAGIC + MB_FLAGS)) & 0xFFFFFFFF

# The used area: workload page i lives at AREA_BASE + i * 4096.
.globl area_base
.set area_base, 0x400000

# The 64-bit multiplier of Fibonacci hashing (2^64 / golden ratio): used for page values.
.set GOLDEN, 0x9E3779B97F4A7C15
# Knuth's MMIX linear congruential generator: state = state * LCG_A + LCG_C (mod 2^64).
.set LCG_A, 6364136223846793005
.set LCG_C, 1442695040888963407

# Serial port COM1 (a 16550 UART; writing its transmit register sends one byte).
.set COM1, 0x3F8

# ---- Parameter block (written by the host into the image; offsets from `params`) ----
.set P_MAGIC,      0x00   # "LMQGUEST", checked by the host before patching
.set P_VERSION,    0x08   # layout version (1)
.set P_TSC_HZ,     0x10   # TSC ticks per second, measured by the host
.set P_TSC_DIV,    0x18   # P_TSC_HZ * 1000 (rates are in accesses per 1000 s)
.set P_WRATE,      0x20   # writes per 1000 s
.set P_RRATE,      0x28   # reads per 1000 s
.set P_PATTERN,    0x30   # 0 idle, 1 sequential, 2 uniform, 3 hot-cold
.set P_WS_START,   0x38   # first page of the working set (index in the used area)
.set P_WS_LEN,     0x40   # pages in the working set
.set P_HOT_LEN,    0x48   # pages in the hot part (hot-cold)
.set P_COLD_LEN,   0x50   # pages in the cold part
.set P_HOT_THRESH, 0x58   # an access is hot when the LCG's top 32 bits are below this
.set P_WSHIFT,     0x60   # log2(bytes one write changes): 3 (8 B) to 12 (a whole page)
.set P_USED,       0x68   # pages in the used area
.set P_ZERO_THRESH,0x70   # page i stays zero when hash32(i) is below this (2^32: all zero)
.set P_WSEED,      0x78   # initial state of the writes' LCG
.set P_RSEED,      0x80   # initial state of the reads' LCG
.set P_MAX_LAG_W,  0x88   # writes behind schedule before the guest gives up catching up
.set P_DROP,       0x90   # how to drop to CPL3: 0 iretq, 1 lretq, 2 sysretq
.set P_MAX_LAG_R,  0x98   # reads behind schedule before the guest gives up catching up

# ---- Control block (written by the guest; the host reads it with QMP pmemsave / HMP xp) ----
.set C_K,          0x100  # writes completed (the global write sequence number of the next write)
.set C_WSTATE,     0x108  # writes' LCG state
.set C_WPOS,       0x110  # writes' sequential position
.set C_READS,      0x118  # reads completed
.set C_RSTATE,     0x120  # reads' LCG state
.set C_RPOS,       0x128  # reads' sequential position
.set C_SUM,        0x130  # checksum of the words read
.set C_BEAT,       0x138  # heartbeat: iterations of the main loop
.set C_TSC,        0x140  # TSC at the last iteration
.set C_BASE_TSC,   0x148  # pacing: TSC when the schedule (re)started
.set C_BASE_W,     0x150  # pacing: writes done then
.set C_BASE_R,     0x158  # pacing: reads done then
.set C_LATE,       0x160  # times the guest fell more than P_MAX_LAG behind and restarted its schedule
.set C_READY,      0x168  # 1 once the used area is filled and the workload runs
.set C_CPL,        0x170  # the privilege level the workload runs at (read from CS)
.set C_NEXT_PRINT, 0x178  # TSC of the next progress line on the serial port

.text
# ============================================================================================
# Multiboot header: must be 32-bit aligned within the first 8 KiB of the image.
# ============================================================================================
.code32
.globl mb_header
mb_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long MB_CHECKSUM
    .long mb_header         # header_addr: where this header is loaded
    .long mb_header         # load_addr: the image starts with the header
    .long image_end         # load_end_addr: load the whole file
    .long image_end         # bss_end_addr: no bss (the stacks are in the image)
    .long entry32           # entry_addr

# ============================================================================================
# 32-bit entry (CPL0, protected mode, paging off: the multiboot machine state). EMULATED under
# PVM, so short and loop-free. Turns on PAE paging with the prebuilt tables and long mode.
# ============================================================================================
.globl entry32
entry32:
    lgdt [gdt_ptr]
    mov eax, cr4
    or eax, 0x20                # CR4.PAE
    mov cr4, eax
    mov eax, offset pml4
    mov cr3, eax
    mov ecx, 0xC0000080         # IA32_EFER
    rdmsr
    or eax, 0x101               # EFER.LME (long mode) | EFER.SCE (SYSCALL/SYSRET)
    wrmsr
    mov eax, cr0
    or eax, 0x80000001          # CR0.PG | CR0.PE: paging on, long mode becomes active
    mov cr0, eax
    # Far jump to the 64-bit code segment (selector 0x10): opcode EA, offset, selector.
    .byte 0xEA
    .long entry64
    .word 0x10

# ============================================================================================
# 64-bit kernel part (CPL0, still EMULATED): load data segments and drop to CPL3.
# ============================================================================================
.code64
entry64:
    mov ax, 0x18                # kernel data
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, offset kstack_top
    mov eax, [params + P_DROP]
    cmp eax, 1
    je drop_lretq
    cmp eax, 2
    je drop_sysretq

# IRETQ pops RIP, CS, RFLAGS, RSP, SS: a return to CPL3 (CS.RPL = 3) with the new RFLAGS.
# Works under PVM.
drop_iretq:
    push 0x23                   # SS: user data, RPL 3
    push offset ustack_top      # RSP
    push 0x3002                 # RFLAGS: IOPL = 3 (bits 12-13), IF = 0, bit 1 always set
    push 0x2B                   # CS: user 64-bit code, RPL 3
    push offset user_main       # RIP
    iretq

# A far return to an outer privilege level pops RIP, CS, then RSP, SS; RFLAGS is set first
# with POPFQ (at CPL0 POPF may change IOPL). Fails under PVM: "emulation failure".
drop_lretq:
    push 0x3002
    popfq
    push 0x23                   # SS
    push offset ustack_top      # RSP
    push 0x2B                   # CS
    push offset user_main       # RIP
    .byte 0x48, 0xCB            # REX.W RETF (lretq)

# SYSRETQ: RIP = RCX, RFLAGS = R11, CS = STAR[63:48] + 16, SS = STAR[63:48] + 8 (both RPL 3);
# RSP is not switched, so it is set to the user stack first. Works under PVM.
drop_sysretq:
    mov ecx, 0xC0000081         # IA32_STAR
    xor eax, eax
    mov edx, 0x00180010         # SYSRET base selector 0x18, SYSCALL selector 0x10
    wrmsr
    mov rcx, offset user_main
    mov r11, 0x3002
    mov rsp, offset ustack_top
    .byte 0x48, 0x0F, 0x07      # REX.W SYSRET (sysretq)

# ============================================================================================
# User mode (CPL3, IOPL 3, interrupts off): runs NATIVELY under PVM. rbx = parameter block.
# ============================================================================================
user_main:
    mov rbx, offset params
    mov ax, cs
    and eax, 3
    mov [rbx + C_CPL], rax
    lea rsi, [rip + msg_hello]
    call puts
    mov rax, [rbx + C_CPL]
    call put_hex
    mov al, '\n'
    call putc

    # Fill the used area: page i stays zero when hash32(i) < P_ZERO_THRESH, otherwise its 512
    # words are word(i, j) = (i * 512 + j) * GOLDEN (the host computes the same in Rust).
    xor r8, r8                  # r8 = page index i
fill_page:
    cmp r8, [rbx + P_USED]
    jae fill_done
    mov rax, r8
    mov rdx, GOLDEN
    imul rax, rdx
    shr rax, 32                 # hash32(i): the top 32 bits of i * GOLDEN
    cmp rax, [rbx + P_ZERO_THRESH]
    jb fill_next
    mov rdi, r8
    shl rdi, 12
    add rdi, area_base          # rdi = the page's address
    mov rax, r8
    shl rax, 9                  # i * 512
    imul rax, rdx               # word(i, 0)
    mov ecx, 512
fill_word:
    mov [rdi], rax
    add rax, rdx                # word(i, j + 1) = word(i, j) + GOLDEN
    add rdi, 8
    dec ecx
    jnz fill_word
fill_next:
    inc r8
    jmp fill_page
fill_done:

    # The workload's initial state.
    mov rax, [rbx + P_WSEED]
    mov [rbx + C_WSTATE], rax
    mov rax, [rbx + P_RSEED]
    mov [rbx + C_RSTATE], rax
    call rdtsc64
    mov [rbx + C_BASE_TSC], rax
    # C_TSC too, before READY: the host reads the control block as soon as READY is set, and
    # the first pass of the main loop (which updates C_TSC) runs only after the serial line.
    mov [rbx + C_TSC], rax
    mov [rbx + C_NEXT_PRINT], rax
    mov qword ptr [rbx + C_READY], 1
    lea rsi, [rip + msg_ready]
    call puts

# ---- The main loop: do the writes and reads that are due by now, then report progress. ----
main_loop:
    inc qword ptr [rbx + C_BEAT]
    call rdtsc64
    mov [rbx + C_TSC], rax
    mov r15, rax                # r15 = now (TSC)

    # Due writes: base_w + (now - base_tsc) * wrate / (tsc_hz * 1000) - k (128-bit product).
    mov rax, r15
    sub rax, [rbx + C_BASE_TSC]
    mul qword ptr [rbx + P_WRATE]
    div qword ptr [rbx + P_TSC_DIV]
    add rax, [rbx + C_BASE_W]
    sub rax, [rbx + C_K]
    mov r13, rax                # r13 = writes due
    # Due reads, the same way.
    mov rax, r15
    sub rax, [rbx + C_BASE_TSC]
    mul qword ptr [rbx + P_RRATE]
    div qword ptr [rbx + P_TSC_DIV]
    add rax, [rbx + C_BASE_R]
    sub rax, [rbx + C_READS]
    mov r14, rax                # r14 = reads due

    # Too far behind (the vCPU was descheduled, or throttled by auto-converge)? Do not try to
    # catch up in a burst: restart the schedule from now and count the event.
    cmp r13, [rbx + P_MAX_LAG_W]
    jg fell_behind
    cmp r14, [rbx + P_MAX_LAG_R]
    jg fell_behind
    jmp do_writes
fell_behind:
    inc qword ptr [rbx + C_LATE]
    mov [rbx + C_BASE_TSC], r15
    mov rax, [rbx + C_K]
    mov [rbx + C_BASE_W], rax
    mov rax, [rbx + C_READS]
    mov [rbx + C_BASE_R], rax
    jmp main_loop

do_writes:
    # At most 4096 writes and 4096 reads per iteration, so the heartbeat keeps beating.
    mov eax, 4096
    cmp r13, rax
    cmovg r13, rax
    cmp r14, rax
    cmovg r14, rax
write_loop:
    test r13, r13
    jle read_loop
    call one_write
    dec r13
    jmp write_loop
read_loop:
    test r14, r14
    jle progress
    call one_read
    dec r14
    jmp read_loop

progress:
    # Once a second: "k=<writes> r=<reads>" in hex on the serial port.
    cmp r15, [rbx + C_NEXT_PRINT]
    jb main_loop
    mov rax, [rbx + P_TSC_HZ]
    add rax, r15
    mov [rbx + C_NEXT_PRINT], rax
    lea rsi, [rip + msg_k]
    call puts
    mov rax, [rbx + C_K]
    call put_hex
    lea rsi, [rip + msg_r]
    call puts
    mov rax, [rbx + C_READS]
    call put_hex
    mov al, '\n'
    call putc
    jmp main_loop

# ---- one_write: write number k = [C_K]. ----
# Chooses page p (pick with the writes' state), then stores 2^P_WSHIFT bytes at byte offset
# (k << P_WSHIFT) mod 4096 of the page: words v, v+1, v+2, ... with v = (k * GOLDEN) xor p.
# The LCG state and position are stored by pick before the page is written, and the count k
# last ("commit"): a vCPU stopped in between has at most this one write in flight.
one_write:
    lea rsi, [rbx + C_WSTATE]   # pick's state: [rsi] LCG state, [rsi + 8] sequential position
    call pick                   # rax = p
    mov r8, rax                 # r8 = p
    mov r9, [rbx + C_K]         # r9 = k
    mov rcx, [rbx + P_WSHIFT]
    mov rdi, r9
    shl rdi, cl
    and edi, 0xFFF              # byte offset in the page
    mov rax, r8
    shl rax, 12
    add rdi, rax
    add rdi, area_base          # rdi = where the write goes
    mov rax, r9
    mov rdx, GOLDEN
    imul rax, rdx
    xor rax, r8                 # rax = v
    mov edx, 1
    sub ecx, 3
    shl edx, cl                 # rdx = words to write
1:  mov [rdi], rax
    inc rax
    add rdi, 8
    dec edx
    jnz 1b
    inc r9
    mov [rbx + C_K], r9         # commit
    ret

# ---- one_read: read one word of a page chosen with the reads' state, fold it into C_SUM. ----
one_read:
    lea rsi, [rbx + C_RSTATE]
    call pick
    shl rax, 12
    add rax, area_base
    mov rdx, [rbx + C_READS]
    shl rdx, 3
    and edx, 0xFF8
    mov rax, [rax + rdx]
    mov rdx, [rbx + C_SUM]
    rol rdx, 5
    xor rdx, rax
    mov [rbx + C_SUM], rdx
    inc qword ptr [rbx + C_READS]
    ret

# ---- pick: the next page of the workload's pattern. In: rsi = &state (state, position). ----
# Out: rax = page index in the used area. Clobbers rcx, rdx. Mirrored by PagePicker in guest.rs.
pick:
    mov rcx, [rbx + P_PATTERN]
    cmp ecx, 1
    je pick_seq
    cmp ecx, 2
    je pick_uniform
    cmp ecx, 3
    je pick_hotcold
    mov rax, [rbx + P_WS_START]     # idle: never called with work to do; the first page
    ret
pick_seq:                           # p = ws_start + pos; pos = (pos + 1) mod ws_len
    mov rax, [rsi + 8]
    lea rdx, [rax + 1]
    cmp rdx, [rbx + P_WS_LEN]
    jb 2f
    xor edx, edx
2:  mov [rsi + 8], rdx
    add rax, [rbx + P_WS_START]
    ret
pick_uniform:                       # p = ws_start + (top32(next LCG) * ws_len) >> 32
    call lcg_next
    mul qword ptr [rbx + P_WS_LEN]
    shr rax, 32
    add rax, [rbx + P_WS_START]
    ret
pick_hotcold:                       # one LCG step decides hot or cold, a second picks the page
    call lcg_next
    cmp rax, [rbx + P_HOT_THRESH]
    jae 3f
    call lcg_next
    mul qword ptr [rbx + P_HOT_LEN]
    shr rax, 32
    add rax, [rbx + P_WS_START]
    ret
3:  call lcg_next
    mul qword ptr [rbx + P_COLD_LEN]
    shr rax, 32
    add rax, [rbx + P_WS_START]
    add rax, [rbx + P_HOT_LEN]
    ret

# lcg_next: [rsi] = [rsi] * LCG_A + LCG_C; rax = the new state's top 32 bits. Clobbers rdx.
lcg_next:
    mov rax, [rsi]
    mov rdx, LCG_A
    imul rax, rdx
    mov rdx, LCG_C
    add rax, rdx
    mov [rsi], rax
    shr rax, 32
    ret

# rdtsc64: rax = the 64-bit time-stamp counter (RDTSC is allowed at CPL3 while CR4.TSD = 0).
rdtsc64:
    rdtsc
    shl rdx, 32
    or rax, rdx
    ret

# putc: send al on COM1. With IOPL 3 a CPL3 OUT is allowed; it exits to QEMU's UART model.
putc:
    push rdx
    mov dx, COM1
    out dx, al
    pop rdx
    ret

# puts: send the zero-terminated string at rsi.
puts:
    push rsi
4:  mov al, [rsi]
    test al, al
    jz 5f
    call putc
    inc rsi
    jmp 4b
5:  pop rsi
    ret

# put_hex: send rax as 16 hex digits.
put_hex:
    push rcx
    push rdx
    mov rdx, rax
    mov ecx, 16
6:  rol rdx, 4
    mov eax, edx
    and eax, 0xF
    cmp eax, 10
    jb 7f
    add eax, 'a' - '0' - 10
7:  add eax, '0'
    call putc
    dec ecx
    jnz 6b
    pop rdx
    pop rcx
    ret

msg_hello: .asciz "livemig guest: user mode, cpl="
msg_ready: .asciz "livemig guest: ready\n"
msg_k:     .asciz "k="
msg_r:     .asciz " r="

# ============================================================================================
# Data.
# ============================================================================================
.balign 16
# GDT: the selectors are the offsets. SYSRET's layout wants user data at base + 8 and user
# 64-bit code at base + 16 (base 0x18 here), SYSCALL's kernel code at 0x10 and data at 0x18.
gdt:
    .quad 0                     # 0x00 null
    .quad 0x00CF9A000000FFFF    # 0x08 32-bit code, DPL 0 (unused after the far jump)
    .quad 0x00AF9A000000FFFF    # 0x10 64-bit code, DPL 0 (L = 1)
    .quad 0x00CF92000000FFFF    # 0x18 data, DPL 0
    .quad 0x00CFF2000000FFFF    # 0x20 data, DPL 3
    .quad 0x00AFFA000000FFFF    # 0x28 64-bit code, DPL 3 (L = 1)
gdt_end:
gdt_ptr:
    .word gdt_end - gdt - 1
    .long gdt

# The parameter block (host-written, offsets P_*) and the control block (guest-written, C_*).
.balign 4096
.globl params
params:
    .ascii "LMQGUEST"           # P_MAGIC
    .quad 1                     # P_VERSION
    .fill 510, 8, 0

# Page tables: PML4 -> one PDPT -> four page directories of 512 2 MiB pages each, identity
# mapping the first 4 GiB. Every entry is present, writable and user-accessible (bits 0-2),
# the PD entries are large pages (bit 7). Built here as data so the emulated kernel part need
# not loop over 2048 entries.
.balign 4096
pml4:
    .quad pdpt + 7
    .fill 511, 8, 0
pdpt:
    .quad pd + 7, pd + 0x1000 + 7, pd + 0x2000 + 7, pd + 0x3000 + 7
    .fill 508, 8, 0
pd:
    .set i, 0
    .rept 2048
    .quad (i << 21) | 0x87
    .set i, i + 1
    .endr

# Stacks: one page for the kernel part, one for user mode.
kstack:
    .fill 4096, 1, 0
kstack_top:
ustack:
    .fill 4096, 1, 0
ustack_top:
.globl image_end
image_end:
