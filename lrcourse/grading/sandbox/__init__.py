"""The trust boundary: everything that starts, confines or talks to a process running a student's code.

Inside this package, a student's code runs; outside it, the grader still reads students' files (`intake`,
`lrcourse.notebook_limits`, `exercise`, `collect`, `inbound`, `sanitize`, `content_policy`: ARCHITECTURE.md's trust
boundary). The code runs (the notebook's kernel, forked from `kernel_zygote`; the process that runs the
student's answers, forked from `answer_zygote`) in a bubblewrap sandbox (`bwrap`) with the `limits` the course
sets (its `cgroups` when the grader may make them), in namespaces of its own (`namespaces`), with its outputs bounded at the source (`kernel_output`) and
without PyTorch's schedulers where an exercise forbids them (`no_lr_scheduler`). `kernels` and `answers` are the
grader's handles on those processes (`kernel_client` bounds each frame a kernel sends, `message_shapes` what nbclient reads of a message; `zygote` is what both
zygotes share, `kernel_relay` stands for a forked kernel); `leftovers` removes what a killed worker's sandboxes
left behind.
Nothing a process here sends is run or unpickled by the grader: the answers' process sends bounded JSON
(`lrcourse.wire`), a kernel sends Jupyter messages whose frames and queue are bounded (`kernel_client`) and whose content is
checked in the shapes nbclient reads (`message_shapes`); a
message of many frames is bounded by the grading worker's memory cap (`lrcourse.grading.autograde.worker_memory`).
"""
